//! The URL signer's side that talks to AWS (DESIGN §8): its credentials (the long-term key in
//! Secrets Manager, else the SDK's chain), where the URLs point, and the factory that hands
//! write-manifest a [`Presigner`] per part. The signing itself is pure: `crate::aws::sigv4`.

use std::time::Duration;

use crate::aws::sigv4::{Presigner, S3Endpoint, SigningCredentials};
use crate::config::Config;
use crate::domain::error::{Error, Result};
use crate::domain::time::Timestamp;

/// The signer's credentials (DESIGN §8): the long-term key in the Secrets Manager secret named by
/// `SIGNING_SECRET_ARN`, else the SDK's default chain. Temporary credentials are refused unless
/// `ALLOW_SHORT_LIVED_URLS` is set, because the URLs would die with them, long before 6 days.
pub async fn load_credentials(config: &Config, sdk: &aws_config::SdkConfig) -> Result<SigningCredentials> {
    let credentials = match &config.signing_secret_arn {
        Some(arn) => from_secret(&aws_sdk_secretsmanager::Client::new(sdk), arn).await?,
        None => from_default_chain(sdk).await?,
    };
    if credentials.is_temporary() && !config.allow_short_lived_urls {
        return Err(Error::Configuration(
            "The URL signer has only temporary credentials: 6-day download links signed with them would stop \
             working within hours. Configure SIGNING_SECRET_ARN with the signing user's access key, or set \
             ALLOW_SHORT_LIVED_URLS=true to accept links that expire early."
                .into(),
        ));
    }
    Ok(credentials)
}

/// The secret holds `{"accessKeyId": "...", "secretAccessKey": "..."}`.
async fn from_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<SigningCredentials> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SecretKey {
        access_key_id: String,
        secret_access_key: String,
    }
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| super::from_sdk("GetSecretValue (signing key)", e))?;
    let text = out
        .secret_string()
        .ok_or_else(|| Error::Configuration("the signing secret has no string value".into()))?;
    let key: SecretKey = serde_json::from_str(text).map_err(|_| {
        Error::Configuration(
            "the signing secret must be JSON {\"accessKeyId\": \"...\", \"secretAccessKey\": \"...\"}".into(),
        )
    })?;
    Ok(SigningCredentials {
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
        session_token: None,
        expires_at: None,
    })
}

async fn from_default_chain(sdk: &aws_config::SdkConfig) -> Result<SigningCredentials> {
    use aws_credential_types::provider::ProvideCredentials;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| Error::Configuration("no AWS credentials are configured for the URL signer".into()))?;
    let c = provider
        .provide_credentials()
        .await
        .map_err(|e| Error::Configuration(format!("loading the URL signer's credentials: {e}")))?;
    Ok(SigningCredentials {
        access_key_id: c.access_key_id().to_owned(),
        secret_access_key: c.secret_access_key().to_owned(),
        session_token: c.session_token().map(str::to_owned),
        expires_at: c
            .expiry()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| Timestamp::from_unix_millis(d.as_millis() as i64)),
    })
}

/// Where attachment URLs point: the SDK's own S3 endpoint setting (`AWS_ENDPOINT_URL_S3` locally)
/// with path style when `S3_FORCE_PATH_STYLE` is set; virtual-hosted AWS URLs otherwise.
pub fn endpoint(config: &Config, sdk: &aws_config::SdkConfig) -> Result<S3Endpoint> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("the key has all its parts");
    let configured = sdk
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned));
    match configured {
        Some(url) if config.s3_force_path_style => S3Endpoint::path_style(&url),
        Some(url) => Err(Error::Configuration(format!(
            "a custom S3 endpoint ({url}) needs S3_FORCE_PATH_STYLE=true for attachment URLs"
        ))),
        None => Ok(S3Endpoint::Aws),
    }
}

/// Makes [`Presigner`]s: credentials loaded once and kept while they are long-term (or, when
/// temporary credentials are allowed, until shortly before they expire).
pub struct PresignerFactory {
    config: Config,
    sdk: aws_config::SdkConfig,
    region: String,
    endpoint: S3Endpoint,
    cached: tokio::sync::Mutex<Option<SigningCredentials>>,
}

/// Reload temporary credentials this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(600);

impl PresignerFactory {
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self> {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| Error::Configuration("no AWS region is configured for the URL signer".into()))?;
        Ok(Self {
            config: config.clone(),
            sdk: sdk.clone(),
            region,
            endpoint: endpoint(config, sdk)?,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    async fn credentials(&self, now: Timestamp) -> Result<SigningCredentials> {
        let mut cached = self.cached.lock().await;
        let fresh =
            cached.as_ref().is_some_and(|c| c.expires_at.is_none_or(|t| now.plus(REFRESH_BEFORE_EXPIRY) < t));
        if !fresh {
            *cached = Some(load_credentials(&self.config, &self.sdk).await?);
        }
        Ok(cached.clone().expect("just loaded"))
    }
}

impl crate::ports::SignerFactory for PresignerFactory {
    type Signer = Presigner;

    async fn signer(&self, signed_at: Timestamp) -> Result<Presigner> {
        let credentials = self.credentials(Timestamp::now()).await?;
        Presigner::new(&credentials, &self.region, self.endpoint.clone(), signed_at, self.config.url_expiry)
    }
}
