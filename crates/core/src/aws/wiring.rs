//! The rules on AWS, built from the typed configuration at cold start: each function's `main.rs`
//! calls the constructor of the rule it runs. Each builds only the adapters that rule uses, so a
//! function needs only the resources it reads (a missing variable is named in the error).

use aws_config::SdkConfig;

use super::{
    Aws, DynamoCatalog, DynamoDirectory, DynamoExportStore, DynamoSweepLedger, EventBridgeNotifier,
    KmsLinkKeys, KmsStatementSigner, S3AttachmentObjects, S3ObjectStore, StepFunctionsWorkflow,
};
use crate::config::{Config, ConfigError};
use crate::ports::SystemClock;
use crate::rules::download::Downloader;
use crate::rules::pipeline::{Enumerator, Finisher, PartWriter};
use crate::rules::retrieve::Retriever;
use crate::rules::start::Starter;
use crate::rules::sweep::Sweeper;

impl Starter<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Starter {
            directory: DynamoDirectory::from_config(dynamodb.clone(), config)?,
            store: DynamoExportStore::from_config(dynamodb, config)?,
            workflow: StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(sdk), config.state_machine_arn()?),
            clock: SystemClock,
            window: config.throttle_window,
            allow_unchecked: config.allow_unchecked_exports,
            self_service: config.self_service_enabled,
        })
    }
}

impl Retriever<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Retriever {
            directory: DynamoDirectory::from_config(dynamodb.clone(), config)?,
            store: DynamoExportStore::from_config(dynamodb, config)?,
            // The manifest link is signed by the function's own role: short-lived is right here.
            objects: S3ObjectStore::export_bucket(sdk, config)?,
            clock: SystemClock,
            manifest_link: config.manifest_link,
            window: config.throttle_window,
            self_service: config.self_service_enabled,
        })
    }
}

impl Sweeper<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        Ok(Sweeper {
            starter: Starter::on_aws(config, sdk)?,
            ledger: DynamoSweepLedger::from_config(aws_sdk_dynamodb::Client::new(sdk), config)?,
            start_exports: config.scheduled_exports,
            max_running: config.sweep_max_running,
        })
    }
}

impl Enumerator<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Enumerator {
            catalog: DynamoCatalog::from_config(dynamodb.clone(), config)?,
            store: DynamoExportStore::from_config(dynamodb, config)?,
            objects: S3ObjectStore::export_bucket(sdk, config)?,
            clock: SystemClock,
            part_items: config.part_items,
            segments: config.list_segments,
            max_read_rate: config.max_read_rate,
            group_parts: config.assembly_group_parts,
            export_bucket: config.export_bucket()?.to_owned(),
        })
    }
}

impl PartWriter<Aws> {
    /// The links' key is derived on first use (one KMS call per part), so a key problem fails the
    /// export with a clear error instead of failing every step (the failure step included) at
    /// start-up.
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> crate::Result<Self> {
        Ok(PartWriter {
            store: DynamoExportStore::from_config(aws_sdk_dynamodb::Client::new(sdk), config)?,
            objects: S3ObjectStore::export_bucket(sdk, config)?,
            attachments: S3AttachmentObjects::new(super::s3::attachments_client(sdk, config)),
            buckets: config.attachment_buckets()?.to_vec(),
            key_layout: config.attachment_key_layout()?,
            links: crate::rules::links::ManifestLinks {
                keys: KmsLinkKeys::new(aws_sdk_kms::Client::new(sdk), config.link_key_ids()?.to_vec()),
                base_url: config.download_base_url()?.to_owned(),
                lifetime: config.url_expiry,
            },
            max_check_rate: config.max_check_rate,
        })
    }
}

impl Finisher<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        Ok(Finisher {
            store: DynamoExportStore::from_config(aws_sdk_dynamodb::Client::new(sdk), config)?,
            objects: S3ObjectStore::export_bucket(sdk, config)?,
            notifier: EventBridgeNotifier::new(aws_sdk_eventbridge::Client::new(sdk))
                .with_reply_bus(config.assistant_reply_bus()?),
            clock: SystemClock,
            statement_key: KmsStatementSigner::from_config(aws_sdk_kms::Client::new(sdk), config)?,
            workflow: StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(sdk), config.state_machine_arn()?),
            pass_bytes: config.finalize_pass_bytes,
            reply_links: crate::rules::assistant::ReplyLinks {
                keys: KmsLinkKeys::new(aws_sdk_kms::Client::new(sdk), config.link_key_ids()?.to_vec()),
                base_url: config.download_base_url()?.to_owned(),
            },
        })
    }
}

impl Downloader<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        Ok(Downloader {
            store: DynamoExportStore::from_config(dynamodb.clone(), config)?,
            // A user's manifest, signed by the function's role for the redirect's minute.
            objects: S3ObjectStore::export_bucket(sdk, config)?,
            catalog: DynamoCatalog::from_config(dynamodb, config)?,
            files: S3AttachmentObjects::new(super::s3::client(sdk, config)),
            link_keys: KmsLinkKeys::new(aws_sdk_kms::Client::new(sdk), config.link_key_ids()?.to_vec()),
            clock: SystemClock,
            buckets: config.attachment_buckets()?.to_vec(),
            key_layout: config.attachment_key_layout()?,
            redirect: config.redirect_url,
            record_cache: config.link_state_cache,
            caches: Default::default(),
        })
    }
}

impl crate::rules::revoke::Revoker<Aws> {
    pub fn on_aws(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        Ok(crate::rules::revoke::Revoker {
            store: DynamoExportStore::from_config(aws_sdk_dynamodb::Client::new(sdk), config)?,
            objects: S3ObjectStore::export_bucket(sdk, config)?,
            notifier: EventBridgeNotifier::new(aws_sdk_eventbridge::Client::new(sdk)),
            clock: SystemClock,
        })
    }
}
