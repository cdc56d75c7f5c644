//! The deployable template agrees with the code, the API design and the state machine, without the
//! local stack: every template function is a binary crate of the workspace (and every binary crate
//! is deployed once), the functions get exactly the environment variables the config reads, the
//! OpenAPI document has DESIGN §5's three routes wired to the right functions with AWS_IAM, the
//! state machine's substitutions are the ASL's placeholders, and the reserved concurrency of the API
//! and of the pipeline fits the stage's throttle, the Map's width and the account's quota.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use integration_tests::{asl_placeholders, repo_root, resources_of_type, template};
use serde_yaml::Value;

/// Library crates under functions/: shared code, not deployed as functions.
/// The library crates, under crates/ (functions/ holds only Lambda crates).
const LIBRARY_CRATES: [&str; 3] = ["core", "entry", "fuzzing"];

/// DESIGN §5's routes: (method, path, logical id of the function that answers).
const DESIGN_ROUTES: [(&str, &str, &str); 8] = [
    ("POST", "/accounts/{accountId}/data-exports", "StartExportApiFunction"),
    ("GET", "/accounts/{accountId}/data-exports", "RetrieveExportApiFunction"),
    ("GET", "/accounts/{accountId}/data-exports/{exportId}", "RetrieveExportApiFunction"),
    ("POST", "/accounts/{accountId}/data-exports/{exportId}/revoke", "RevokeExportApiFunction"),
    // A self-service user's own (DESIGN §15).
    ("POST", "/users/{userId}/data-exports", "StartExportApiFunction"),
    ("GET", "/users/{userId}/data-exports", "RetrieveExportApiFunction"),
    ("GET", "/users/{userId}/data-exports/{exportId}", "RetrieveExportApiFunction"),
    ("POST", "/users/{userId}/data-exports/{exportId}/revoke", "RevokeExportApiFunction"),
];

/// The self-service user's policy: the routes it allows, after `.../users/${aws:PrincipalTag/chatUserId}`.
const SELF_SERVICE_ROUTES: [&str; 4] =
    ["POST /data-exports", "GET /data-exports", "GET /data-exports/*", "POST /data-exports/*/revoke"];
const TAGGED_USER: &str = "${!aws:PrincipalTag/chatUserId}";

/// The tenants' managed policies: (logical id, the routes each allows, as `METHOD path` with the
/// path after `.../accounts/${aws:PrincipalTag/chatAccountId}`).
const TENANT_POLICIES: [(&str, &[&str]); 4] = [
    ("StartDataExportPolicy", &["POST /data-exports"]),
    ("RetrieveDataExportPolicy", &["GET /data-exports", "GET /data-exports/*"]),
    ("RevokeDataExportPolicy", &["POST /data-exports/*/revoke"]),
    (
        "DataExportFullAccessPolicy",
        &["POST /data-exports", "GET /data-exports", "GET /data-exports/*", "POST /data-exports/*/revoke"],
    ),
];

/// The resource variables of config.rs, each required only where used.
const RESOURCES: [&str; 9] = [
    "ACCOUNTS_TABLE",
    "ATTACHMENTS_TABLE",
    "EXPORTS_TABLE",
    "EXPORT_BUCKET",
    "ATTACHMENT_BUCKETS",
    "ATTACHMENT_KEY_LAYOUT",
    "STATEMENT_KEY_ID",
    "STATE_MACHINE_ARN",
    "USER_POOL_ID",
];

/// Which resource variables each adapter constructor asks the config for.
const CONSTRUCTOR_NEEDS: [(&str, &[&str]); 10] = [
    ("DynamoDirectory::from_config", &["ACCOUNTS_TABLE"]),
    ("DynamoCatalog::from_config", &["ACCOUNTS_TABLE", "ATTACHMENTS_TABLE"]),
    ("DynamoExportStore::from_config", &["EXPORTS_TABLE"]),
    ("DynamoSweepLedger::from_config", &["EXPORTS_TABLE"]),
    ("S3ObjectStore::export_bucket", &["EXPORT_BUCKET"]),
    ("config.attachment_buckets()", &["ATTACHMENT_BUCKETS"]),
    ("config.attachment_key_layout()", &["ATTACHMENT_KEY_LAYOUT"]),
    ("KmsStatementSigner::from_config", &["STATEMENT_KEY_ID"]),
    ("StepFunctionsWorkflow::new", &["STATE_MACHINE_ARN"]),
    ("CognitoPeople::from_config", &["USER_POOL_ID"]),
];

/// The resource variables a function's wiring reads: the adapter constructors named in its
/// binary's source and its crate's library, and in the AWS constructors of the rules they build
/// (`impl Rule<Aws>` in crates/core/src/aws/wiring.rs, followed to the rules those build).
fn resource_needs(binary: &str) -> BTreeSet<&'static str> {
    let crates = function_crates();
    let krate = binaries(&crates).remove(binary).unwrap_or_else(|| panic!("no binary {binary}"));
    let dir = repo_root().join("functions").join(&krate);
    let main =
        if binary == krate { dir.join("src/main.rs") } else { dir.join(format!("src/bin/{binary}.rs")) };
    let mut source = std::fs::read_to_string(&main).unwrap();
    source.push_str(&std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default());
    let wiring = rule_wiring();
    let mut followed = BTreeSet::new();
    while let Some((rule, block)) =
        wiring.iter().find(|(rule, _)| source.contains(rule.as_str()) && !followed.contains(rule))
    {
        followed.insert(rule.clone());
        source.push_str(block);
    }
    CONSTRUCTOR_NEEDS
        .iter()
        .filter(|(constructor, _)| source.contains(constructor))
        .flat_map(|(_, vars)| vars.iter().copied())
        .collect()
}

/// Each rule's AWS constructor in crates/core/src/aws/wiring.rs: (`Rule::on_aws`, its source).
fn rule_wiring() -> Vec<(String, String)> {
    let source = read("crates/core/src/aws/wiring.rs");
    let blocks: Vec<(String, String)> = source
        .split("\nimpl ")
        .skip(1)
        .filter_map(|block| {
            // `impl crate::rules::revoke::Revoker<Aws>`: the sources name it `Revoker::on_aws`.
            let rule = block.split_once("<Aws>")?.0.rsplit("::").next()?;
            Some((format!("{rule}::on_aws"), block.to_owned()))
        })
        .collect();
    assert!(blocks.len() >= 6, "the rules' AWS constructors are in aws/wiring.rs: {blocks:?}");
    blocks
}

/// The functions that start exports (and so may name the state machine).
/// The functions the state machine calls (its DefinitionSubstitutions).
const STEPS: [&str; 2] = ["EnumerateAttachmentsFunction", "WriteManifestFunction"];

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn openapi() -> Value {
    serde_yaml::from_str(&read("infra/api/openapi.yaml")).expect("infra/api/openapi.yaml parses")
}

/// The target of `!GetAtt X.Arn` or `{"Fn::GetAtt": [X, Arn]}`: ("X", "Arn").
fn get_att(value: &Value) -> Option<(String, String)> {
    let split = |s: &str| s.split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned()));
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => match &tagged.value {
            Value::String(s) => split(s),
            Value::Sequence(parts) => Some((parts[0].as_str()?.to_owned(), parts[1].as_str()?.to_owned())),
            _ => None,
        },
        Value::Mapping(m) => match m.get("Fn::GetAtt")? {
            Value::String(s) => split(s),
            Value::Sequence(parts) => Some((parts[0].as_str()?.to_owned(), parts[1].as_str()?.to_owned())),
            _ => None,
        },
        _ => None,
    }
}

/// `start-export` → `StartExport`.
fn pascal_case(crate_name: &str) -> String {
    crate_name
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The crates under functions/: directory name → Cargo.toml text.
fn function_crates() -> BTreeMap<String, String> {
    let dir = repo_root().join("functions");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").exists())
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read_to_string(path.join("Cargo.toml")).unwrap())
        })
        .collect()
}

fn is_binary_crate(dir: &Path, manifest: &str) -> bool {
    dir.join("src/main.rs").exists() || dir.join("src/bin").exists() || manifest.contains("[[bin]]")
}

/// Every binary of the function crates: binary name → crate (`src/main.rs` is the crate's own name,
/// `src/bin/NAME.rs` is NAME: one crate may serve two trust paths with two binaries).
fn binaries(crates: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut binaries = BTreeMap::new();
    for name in crates.keys() {
        let dir = repo_root().join("functions").join(name);
        if dir.join("src/main.rs").exists() {
            binaries.insert(name.clone(), name.clone());
        }
        for entry in std::fs::read_dir(dir.join("src/bin")).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                binaries.insert(path.file_stem().unwrap().to_str().unwrap().to_owned(), name.clone());
            }
        }
    }
    binaries
}

/// A function's effective property: its own, else the template's `Globals.Function` one.
fn function_property<'a>(template: &'a Value, function: &'a Value, name: &str) -> &'a Value {
    let own = &function["Properties"][name];
    if own.is_null() { &template["Globals"]["Function"][name] } else { own }
}

/// The names of a function's environment variables, `Globals` included.
fn environment(template: &Value, function: &Value) -> BTreeSet<String> {
    [&template["Globals"]["Function"], &function["Properties"]]
        .iter()
        .filter_map(|scope| scope["Environment"]["Variables"].as_mapping())
        .flat_map(|vars| vars.keys().map(|k| k.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn every_template_function_is_a_binary_crate_and_every_binary_crate_is_deployed_once() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    assert!(!functions.is_empty(), "the template deploys no function");
    let crates = function_crates();
    let binaries = binaries(&crates);

    let mut deployed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (logical_id, function) in &functions {
        let metadata = &function["Metadata"];
        assert_eq!(metadata["BuildMethod"].as_str(), Some("rust-cargolambda"), "{logical_id}: BuildMethod");
        let binary = metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{logical_id}: Metadata.BuildProperties.Binary missing"));
        let krate = binaries
            .get(binary)
            .unwrap_or_else(|| panic!("{logical_id}: no crate under functions/ builds a binary {binary}"));
        assert!(
            crates[krate].contains(&format!("name = \"{krate}\"")),
            "{logical_id}: functions/{krate}/Cargo.toml does not name the package {krate}"
        );
        // The local gateway and provisioning derive crate names from logical ids this way.
        assert_eq!(*logical_id, format!("{}Function", pascal_case(binary)), "logical id of {binary}");

        for (property, expected) in
            [("Runtime", "provided.al2023"), ("Handler", "bootstrap"), ("CodeUri", ".")]
        {
            assert_eq!(
                function_property(&template, function, property).as_str(),
                Some(expected),
                "{logical_id}: {property}"
            );
        }
        let architectures = function_property(&template, function, "Architectures");
        assert_eq!(architectures.as_sequence().map(Vec::len), Some(1), "{logical_id}: one architecture");
        assert_eq!(architectures[0].as_str(), Some("arm64"), "{logical_id}: Architectures");
        assert_eq!(
            function["Properties"]["LoggingConfig"]["LogFormat"].as_str(),
            Some("JSON"),
            "{logical_id}: LoggingConfig.LogFormat"
        );
        deployed.entry(binary.to_owned()).or_default().push(logical_id.clone());
    }

    for library in LIBRARY_CRATES {
        let dir = repo_root().join("crates").join(library);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap_or_else(|_| panic!("library crate crates/{library} is gone"));
        assert!(
            !is_binary_crate(&dir, &manifest),
            "crates/{library} now builds a binary: a Lambda crate belongs under functions/"
        );
    }
    for name in binaries.keys() {
        let ids = deployed.get(name).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(ids.len(), 1, "binary {name} must be exactly one template function, is {ids:?}");
    }
    for name in crates.keys() {
        assert!(
            binaries.values().any(|k| k == name),
            "functions/{name} builds no deployed binary: a library belongs under crates/"
        );
    }
}

#[test]
fn functions_get_exactly_the_variables_the_config_reads() {
    let template = template();
    let config = read("crates/core/src/config.rs");
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    for (logical_id, function) in &functions {
        let variables = environment(&template, function);
        // Each function gets exactly the resources its wiring asks the config for (the adapters'
        // `from_config`, which fail at cold start naming a missing variable).
        let resources: BTreeSet<&str> =
            variables.iter().map(String::as_str).filter(|v| RESOURCES.contains(v)).collect();
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        assert_eq!(resources, resource_needs(binary), "{logical_id}: resource variables");
        for variable in &variables {
            assert!(
                config.contains(&format!("\"{variable}\"")),
                "{logical_id} sets {variable}, which crates/core/src/config.rs never reads"
            );
        }
        // The state machine's own steps name it by its name: a !Ref to it would be a cycle.
        if STEPS.contains(&logical_id.as_str()) && variables.contains("STATE_MACHINE_ARN") {
            let value = &function["Properties"]["Environment"]["Variables"]["STATE_MACHINE_ARN"];
            let text = match value {
                Value::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str().unwrap_or_default(),
                other => panic!("{logical_id}: STATE_MACHINE_ARN must be a !Sub of the name, not {other:?}"),
            };
            assert!(text.ends_with(":stateMachine:${AWS::StackName}-export"), "{logical_id}: {text}");
            let name = &template["Resources"]["ExportStateMachine"]["Properties"]["Name"];
            assert!(matches!(name, Value::Tagged(t) if t.value.as_str() == Some("${AWS::StackName}-export")));
        }
        for sweep_variable in ["SWEEP_RULE_NAME", "SWEEP_RESUME_RULE_NAME", "SCHEDULED_EXPORTS"] {
            assert_eq!(
                variables.contains(sweep_variable),
                logical_id == "SweepExportsFunction",
                "{logical_id}: {sweep_variable} belongs to sweep-exports only"
            );
        }
        // The link key is for the two functions that make and check links; the links' address for
        // the one that writes them.
        assert_eq!(
            variables.contains("LINK_KEY_IDS"),
            ["WriteManifestFunction", "DownloadExportFunction"].contains(&logical_id.as_str()),
            "{logical_id}: LINK_KEY_IDS belongs to write-manifest and download-export only"
        );
        assert_eq!(
            variables.contains("DOWNLOAD_BASE_URL"),
            logical_id == "WriteManifestFunction",
            "{logical_id}: DOWNLOAD_BASE_URL belongs to write-manifest only"
        );
    }
}

/// The methods a path serves besides OPTIONS, as a preflight lists them ("GET,POST").
fn path_item_methods(item: &Value) -> Vec<String> {
    let mut methods: Vec<String> = item
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|m| ["get", "put", "post", "delete", "head", "patch"].contains(m))
        .map(str::to_uppercase)
        .collect();
    methods.sort();
    methods
}

/// A CORS preflight is answered by API Gateway itself (a mock integration, no authorization, so a
/// browser's unsigned OPTIONS gets through), for the console's origin only, with exactly the
/// path's methods.
fn assert_cors_preflight(methods: &[String], path: &str, operation: &Value) {
    let integration = &operation["x-amazon-apigateway-integration"];
    assert_eq!(integration["type"].as_str(), Some("mock"), "OPTIONS {path}: a mock integration");
    assert_eq!(
        operation["security"].as_sequence().map(Vec::len),
        Some(0),
        "OPTIONS {path}: no authorization"
    );
    let params = &integration["responses"]["default"]["responseParameters"];
    let origin = params["method.response.header.Access-Control-Allow-Origin"]["Fn::Sub"].as_str();
    assert_eq!(
        origin,
        Some("'https://${ConsoleDistribution.DomainName}'"),
        "OPTIONS {path}: the console's origin only"
    );
    let allowed = params["method.response.header.Access-Control-Allow-Methods"].as_str().unwrap();
    let mut expected = methods.to_vec();
    expected.push("OPTIONS".into());
    let mut listed: Vec<String> = allowed.trim_matches('\'').split(',').map(str::to_owned).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "OPTIONS {path}: Allow-Methods");
    let headers = params["method.response.header.Access-Control-Allow-Headers"].as_str().unwrap();
    for needed in ["Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Content-Type"] {
        assert!(headers.contains(needed), "OPTIONS {path}: Allow-Headers lacks {needed}");
    }
}

/// (method, path, logical id named by the integration URI) of every OpenAPI operation.
fn openapi_routes(document: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().expect("paths") {
        let path = path.as_str().unwrap();
        for (method, operation) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if !["get", "put", "post", "delete", "options", "head", "patch"].contains(&method) {
                continue;
            }
            let method = method.to_uppercase();
            let integration = &operation["x-amazon-apigateway-integration"];
            if method == "OPTIONS" {
                assert_cors_preflight(&path_item_methods(item), path, operation);
                continue;
            }
            assert_eq!(integration["type"].as_str(), Some("aws_proxy"), "{method} {path}: integration type");
            assert_eq!(
                integration["httpMethod"].as_str(),
                Some("POST"),
                "{method} {path}: Lambda is invoked with POST"
            );
            let uri = integration["uri"]["Fn::Sub"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: the integration uri is not an Fn::Sub string"));
            let target = uri
                .strip_suffix(".Arn}/invocations")
                .and_then(|s| s.rsplit_once("${"))
                .map(|(_, id)| id.to_owned())
                .unwrap_or_else(|| panic!("{method} {path}: {uri} does not invoke a function's ARN"));
            assert!(
                uri.contains(":apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"),
                "{method} {path}: {uri}"
            );
            let security = serde_yaml::to_string(&operation["security"]).unwrap();
            assert!(security.contains("sigv4"), "{method} {path} is not AWS_IAM-authorized: {security}");
            assert!(
                operation["x-amazon-apigateway-request-validator"].as_str().is_some(),
                "{method} {path}: no request validator"
            );
            routes.insert((method, path.to_owned(), target));
        }
    }
    routes
}

#[test]
fn the_api_has_the_designs_routes_each_on_its_function() {
    let document = openapi();
    let expected: BTreeSet<(String, String, String)> =
        DESIGN_ROUTES.iter().map(|(m, p, f)| (m.to_string(), p.to_string(), f.to_string())).collect();
    assert_eq!(openapi_routes(&document), expected, "infra/api/openapi.yaml and DESIGN §5 differ");

    let scheme = &document["components"]["securitySchemes"]["sigv4"];
    assert_eq!(scheme["x-amazon-apigateway-authtype"].as_str(), Some("awsSigv4"), "sigv4 is AWS_IAM");
    let validators = document["x-amazon-apigateway-request-validators"].as_mapping().expect("validators");
    for (_, operation) in
        document["paths"].as_mapping().unwrap().iter().flat_map(|(_, i)| i.as_mapping().unwrap())
    {
        if let Some(name) = operation["x-amazon-apigateway-request-validator"].as_str() {
            assert!(validators.contains_key(name), "request validator {name} is not declared");
        }
    }

    // The template builds its API from this very document, and each route's function exists.
    let template = template();
    let apis = resources_of_type(&template, "AWS::Serverless::Api");
    assert_eq!(apis.len(), 1, "one REST API");
    let include = &apis.values().next().unwrap()["Properties"]["DefinitionBody"]["Fn::Transform"];
    assert_eq!(include["Name"].as_str(), Some("AWS::Include"));
    assert_eq!(include["Parameters"]["Location"].as_str(), Some("infra/api/openapi.yaml"));
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    for (_, _, function) in DESIGN_ROUTES {
        assert!(functions.contains_key(function), "the API invokes {function}, which the template lacks");
    }
}

#[test]
fn the_state_machine_substitutes_exactly_the_asl_placeholders_with_its_functions() {
    let template = template();
    let machine = &template["Resources"]["ExportStateMachine"];
    assert_eq!(machine["Type"].as_str(), Some("AWS::Serverless::StateMachine"));
    let properties = &machine["Properties"];
    assert_eq!(properties["DefinitionUri"].as_str(), Some("infra/statemachine/export.asl.json"));

    let substitutions = properties["DefinitionSubstitutions"].as_mapping().expect("DefinitionSubstitutions");
    let keys: BTreeSet<String> = substitutions.keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    let placeholders = asl_placeholders();
    assert!(!placeholders.is_empty());
    assert_eq!(keys, placeholders, "DefinitionSubstitutions and the ASL's placeholders differ");

    let mut invoked = BTreeSet::new();
    for (key, value) in substitutions {
        let key = key.as_str().unwrap();
        let function = key.strip_suffix("Arn").unwrap_or_else(|| panic!("{key} is not an ARN placeholder"));
        assert_eq!(get_att(value), Some((function.to_owned(), "Arn".to_owned())), "{key}");
        invoked.insert(function.to_owned());
    }

    // The state machine may invoke exactly the functions it names, nothing else.
    let role = get_att(&properties["Role"]).expect("the state machine has its own role").0;
    // Its inline policies, and the role policies attached to it apart (which name other resources).
    let mut documents: Vec<Value> = template["Resources"][role.as_str()]["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["PolicyDocument"].clone())
        .collect();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() == Some("AWS::IAM::RolePolicy")
            && ref_of(&resource["Properties"]["RoleName"]) == Some(role.as_str())
        {
            documents.push(resource["Properties"]["PolicyDocument"].clone());
        }
    }
    let statements =
        documents.iter().flat_map(|d| d["Statement"].as_sequence().unwrap().clone()).collect::<Vec<_>>();
    let mut allowed = BTreeSet::new();
    for statement in statements.iter().filter(|s| s["Action"].as_str() == Some("lambda:InvokeFunction")) {
        for resource in statement["Resource"].as_sequence().unwrap() {
            let (target, attribute) = get_att(resource).expect("invoke permission by GetAtt");
            assert_eq!(attribute, "Arn");
            allowed.insert(target);
        }
    }
    assert_eq!(allowed, invoked, "{role} must allow lambda:InvokeFunction on exactly the ASL's functions");
}

/// `!Ref X` → "X".
fn ref_of(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        Value::Mapping(m) => m.get("Ref")?.as_str(),
        _ => None,
    }
}

/// `!FindInMap [Map, !Ref Parameter, Column]` → ("Map", "Parameter", "Column").
fn find_in_map(value: &Value) -> Option<(String, String, String)> {
    let arguments = match value {
        Value::Tagged(tagged) if tagged.tag == "FindInMap" => &tagged.value,
        Value::Mapping(m) => m.get("Fn::FindInMap")?,
        _ => return None,
    };
    let arguments = arguments.as_sequence()?;
    Some((
        arguments[0].as_str()?.to_owned(),
        ref_of(&arguments[1])?.to_owned(),
        arguments[2].as_str()?.to_owned(),
    ))
}

/// The state machine definition as JSON (its `${…}` placeholders sit inside strings).
fn asl() -> serde_json::Value {
    serde_json::from_str(&read("infra/statemachine/export.asl.json")).expect("the ASL is JSON")
}

/// Every Task state of the definition, those of the Map's item processor included: (name, state).
fn tasks(states: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut found = Vec::new();
    for (name, state) in states.as_object().expect("States") {
        match state["Type"].as_str() {
            Some("Task") => found.push((name.clone(), state.clone())),
            Some("Map") => found.extend(tasks(&state["ItemProcessor"]["States"])),
            _ => {}
        }
    }
    found
}

/// Noisy neighbours (DEPLOY.md): the API's functions keep concurrency of their own whatever else
/// runs (a sweep's exports), enough for what the stage admits; the pipeline is capped at
/// ConcurrentExports exports, write-manifest at the Map state's MaxConcurrency parts for each of
/// them; and with every reservation of the stack, at the defaults and at the largest cap, an account
/// of the usual 1,000 keeps the 100 Lambda requires unreserved.
#[test]
fn the_api_reserves_concurrency_and_the_pipeline_is_capped_at_the_maps_width() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    let reserved = |id: &str| functions[id]["Properties"]["ReservedConcurrentExecutions"].clone();
    for (id, function) in &functions {
        assert!(
            !function["Properties"]["ReservedConcurrentExecutions"].is_null(),
            "{id}: every function is bounded, and what the API needs is kept for it"
        );
    }
    for id in ["StartExportApiFunction", "RetrieveExportApiFunction", "RevokeExportApiFunction"] {
        assert_eq!(ref_of(&reserved(id)), Some("ApiConcurrency"), "{id}");
    }
    assert_eq!(
        ref_of(&reserved("DownloadExportFunction")),
        Some("DownloadConcurrency"),
        "DownloadExportFunction"
    );
    for (id, fixed) in [
        ("StartExportFunction", 5),
        ("RetrieveExportFunction", 5),
        ("RevokeExportFunction", 5),
        ("SweepExportsFunction", 1),
    ] {
        assert_eq!(reserved(id).as_u64(), Some(fixed), "{id}");
    }
    let column = |id: &str| {
        let (map, parameter, column) =
            find_in_map(&reserved(id)).unwrap_or_else(|| panic!("{id}: reserved by !FindInMap"));
        assert_eq!((map.as_str(), parameter.as_str()), ("ExportConcurrency", "ConcurrentExports"), "{id}");
        column
    };
    let (enumerate, write) = (column("EnumerateAttachmentsFunction"), column("WriteManifestFunction"));

    // For each of N exports, the ListSegments Map's MaxConcurrency segments and the WriteParts
    // Map's parts; the code shares an export's read rate among as many segment workers.
    let width = asl()["States"]["WriteParts"]["MaxConcurrency"].as_u64().expect("the Map's MaxConcurrency");
    assert_eq!(width, 8, "DEPLOY.md's arithmetic assumes 8 parts at once");
    assert_eq!(width, u64::from(export_core::rules::pipeline::PART_WORKERS), "PART_WORKERS");
    // AssembleGroups runs after WriteParts, on the same function: no wider, so the same reserve.
    let groups =
        asl()["States"]["AssembleGroups"]["MaxConcurrency"].as_u64().expect("the Map's MaxConcurrency");
    assert_eq!(groups, width, "AssembleGroups is as wide as WriteParts");
    let segments =
        asl()["States"]["ListSegments"]["MaxConcurrency"].as_u64().expect("the Map's MaxConcurrency");
    assert_eq!(segments, u64::from(export_core::rules::pipeline::SEGMENT_WORKERS), "SEGMENT_WORKERS");
    assert_eq!(segments, 8, "DEPLOY.md's arithmetic assumes 8 segments at once");
    let parameters = &template["Parameters"];
    let allowed: Vec<u64> = parameters["ConcurrentExports"]["AllowedValues"]
        .as_sequence()
        .expect("ConcurrentExports takes listed values")
        .iter()
        .map(|v| v.as_u64().expect("a number"))
        .collect();
    let mapping =
        template["Mappings"]["ExportConcurrency"].as_mapping().expect("the ExportConcurrency mapping");
    assert_eq!(mapping.len(), allowed.len(), "one mapping row per allowed value");
    for n in &allowed {
        let row = &template["Mappings"]["ExportConcurrency"][n.to_string().as_str()];
        assert_eq!(row[enumerate.as_str()].as_u64(), Some(n * segments), "ConcurrentExports {n}: segments");
        assert_eq!(row[write.as_str()].as_u64(), Some(n * width), "ConcurrentExports {n}: parts");
    }

    // What the stack reserves: the three direct functions, the sweep, the API's three, the
    // pipeline's two, the download function.
    let default = |name: &str| parameters[name]["Default"].as_u64().unwrap_or_else(|| panic!("{name}"));
    let reserves = |api: u64, exports: u64, download: u64| {
        5 + 5 + 5 + 1 + 3 * api + exports * segments + exports * width + download
    };
    let (api, download) = (default("ApiConcurrency"), default("DownloadConcurrency"));
    let at_defaults = reserves(api, default("ConcurrentExports"), download);
    assert!(allowed.contains(&default("ConcurrentExports")));
    assert!(at_defaults + 100 <= 1000, "the defaults reserve {at_defaults} of 1,000");
    let deploy = read("docs/DEPLOY.md");
    assert!(
        deploy.contains(&format!("**{at_defaults}**")),
        "DEPLOY.md's arithmetic does not say {at_defaults}"
    );
    // With the download function's 200, the largest cap no longer fits a 1,000 account beside the
    // other defaults: DEPLOY.md names the largest that does, which must be at least the default.
    let fitting = allowed
        .iter()
        .copied()
        .filter(|n| reserves(api, *n, download) + 100 <= 1000)
        .max()
        .expect("some ConcurrentExports fits a 1,000 account at the defaults");
    assert!(fitting >= default("ConcurrentExports"), "the default ConcurrentExports does not fit");
    assert!(
        deploy.contains(&format!("`ConcurrentExports` up to\n**{fitting}** fits a 1,000 account")),
        "DEPLOY.md's arithmetic does not say that ConcurrentExports up to {fitting} fits"
    );

    // The stage's throttle is the template's parameters, and the API's functions can take what it
    // admits: retrieve-export-api answers both GET methods, each up to the stage's rate, at up to
    // 250 ms a request.
    let api = resources_of_type(&template, "AWS::Serverless::Api").remove("ExportApi").expect("ExportApi");
    let settings = api["Properties"]["MethodSettings"].as_sequence().expect("MethodSettings");
    assert_eq!(settings.len(), 1, "one stage-wide method setting");
    assert_eq!(
        (settings[0]["ResourcePath"].as_str(), settings[0]["HttpMethod"].as_str()),
        (Some("/*"), Some("*"))
    );
    assert_eq!(ref_of(&settings[0]["ThrottlingRateLimit"]), Some("ApiThrottleRate"));
    assert_eq!(ref_of(&settings[0]["ThrottlingBurstLimit"]), Some("ApiThrottleBurst"));
    assert!(
        default("ApiConcurrency") * 4 >= 2 * default("ApiThrottleRate"),
        "ApiConcurrency is below what the stage admits to retrieve-export-api"
    );
    assert!(
        default("ApiThrottleBurst") > default("SessionRequestsPerMinute"),
        "one session's minute must fit in a method's burst"
    );
}

/// Exports past the pipeline's cap wait instead of failing: every Task retries a Lambda throttle
/// (`Lambda.TooManyRequestsException`) first, on its own, jittered (so the waiting exports do not
/// retry in step), for an hour or more on average and within the execution's time limit; the quick
/// retrier keeps the other transient errors.
#[test]
fn every_step_waits_out_the_pipelines_cap_with_jittered_retries() {
    let definition = asl();
    let limit = definition["TimeoutSeconds"].as_f64().expect("the execution's time limit");
    let tasks = tasks(&definition["States"]);
    assert_eq!(tasks.len(), 7, "Plan, ListSegment, Close, WritePart, AssembleGroup, Finalize, RecordFailure");
    for (name, task) in &tasks {
        let retry = task["Retry"].as_array().unwrap_or_else(|| panic!("{name}: no Retry"));
        let throttle = &retry[0];
        assert_eq!(throttle["ErrorEquals"], serde_json::json!(["Lambda.TooManyRequestsException"]), "{name}");
        for other in &retry[1..] {
            let errors = other["ErrorEquals"].as_array().unwrap();
            assert!(
                !errors.iter().any(|e| e == "Lambda.TooManyRequestsException"),
                "{name}: throttles retried twice"
            );
        }
        assert_eq!(throttle["JitterStrategy"], "FULL", "{name}");
        let (interval, backoff, cap, attempts) = (
            throttle["IntervalSeconds"].as_f64().unwrap(),
            throttle["BackoffRate"].as_f64().unwrap(),
            throttle["MaxDelaySeconds"].as_f64().unwrap_or_else(|| panic!("{name}: no MaxDelaySeconds")),
            throttle["MaxAttempts"].as_u64().unwrap(),
        );
        let longest: f64 = (0..attempts).map(|n| (interval * backoff.powi(n as i32)).min(cap)).sum();
        // Full jitter waits a uniform part of each delay: half of the longest on average.
        assert!(longest / 2.0 >= 3600.0, "{name}: waits {longest} s at most, too little for a queue");
        assert!(longest < limit, "{name}: waits past the execution's {limit} s");
        assert!(cap <= 120.0, "{name}: a freed slot waits {cap} s for its next taker");
    }
}

/// A policy document's statements, whatever their YAML shape.
fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Sequence(items) => items.clone(),
        Value::Null => vec![],
        one => vec![one.clone()],
    }
}

/// Every string inside a value (Resource entries are `!Sub` strings or `!GetAtt`s).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Mapping(m) => m.values().flat_map(strings).collect(),
        Value::Tagged(t) => strings(&t.value),
        _ => vec![],
    }
}

/// The tenants' policies: execute-api on their own account's routes only (the principal tag in
/// every resource, the tag required), and no way around the API (no lambda:InvokeFunction).
#[test]
fn tenant_policies_reach_only_the_tagged_account_through_the_api() {
    let template = template();
    let policies = resources_of_type(&template, "AWS::IAM::ManagedPolicy");
    for (name, _) in TENANT_POLICIES {
        let policy = policies.get(name).unwrap_or_else(|| panic!("{name} is gone"));
        let statements = statements(&policy["Properties"]["PolicyDocument"]);
        assert!(!statements.is_empty(), "{name}");
        for statement in &statements {
            let actions = strings(&statement["Action"]);
            assert_eq!(actions, ["execute-api:Invoke"], "{name}: tenants get execute-api:Invoke only");
            assert!(statement["NotAction"].is_null() && statement["NotResource"].is_null(), "{name}");
            let resources = strings(&statement["Resource"]);
            assert!(!resources.is_empty(), "{name}");
            for resource in &resources {
                assert!(
                    resource.contains("/accounts/${!aws:PrincipalTag/chatAccountId}/data-exports"),
                    "{name}: {resource} is not confined to the caller's chatAccountId"
                );
                assert!(!resource.contains("/accounts/*"), "{name}: {resource}");
            }
            let null = &statement["Condition"]["Null"]["aws:PrincipalTag/chatAccountId"];
            assert_eq!(null.as_str(), Some("false"), "{name}: a principal without the tag gets nothing");
        }
        let text = serde_yaml::to_string(policy).unwrap();
        assert!(!text.contains("lambda:"), "{name} must grant no Lambda action");
    }
    // The operator's policy is the one that reaches every account and the direct functions, and
    // never the API functions or the sweep.
    let operator = serde_yaml::to_string(&policies["DataExportOperatorPolicy"]).unwrap();
    assert!(operator.contains("lambda:InvokeFunction"));
    for forbidden in [
        "StartExportApiFunction",
        "RetrieveExportApiFunction",
        "RevokeExportApiFunction",
        "SweepExportsFunction",
        "AssistantFunction",
    ] {
        assert!(!operator.contains(forbidden), "DataExportOperator must not invoke {forbidden}");
    }
    for direct in ["StartExportFunction", "RetrieveExportFunction", "RevokeExportFunction"] {
        assert!(
            operator.contains(direct),
            "DataExportOperator invokes {direct} (the operators' direct path)"
        );
    }
    // No other policy of the template grants lambda:InvokeFunction on the entry points.
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        let id = id.as_str().unwrap();
        // (The state machine's invoke is checked to name its two step functions exactly, above.)
        if id == "DataExportOperatorPolicy" || id == "ExportStateMachineStepsPolicy" {
            continue;
        }
        // The chat service's: the Assistant, and nothing else (DESIGN §15).
        if id == "ChatServiceAssistantPolicy" {
            let statements = statements(&resource["Properties"]["PolicyDocument"]);
            assert_eq!(statements.len(), 1, "{id}");
            assert_eq!(strings(&statements[0]["Action"]), ["lambda:InvokeFunction"], "{id}");
            assert_eq!(
                serde_yaml::to_string(&statements[0]["Resource"]).unwrap().trim(),
                "!GetAtt AssistantFunction.Arn",
                "{id}"
            );
            continue;
        }
        let text = serde_yaml::to_string(&resource["Properties"]).unwrap();
        if resource["Type"].as_str() != Some("AWS::Lambda::Permission") {
            assert!(!text.contains("lambda:InvokeFunction"), "{id} grants lambda:InvokeFunction");
        }
    }
}

/// IAM's resource matching for an ARN: `*` any run of characters (`/` included), `?` one.
fn arn_glob(pattern: &str, arn: &str) -> bool {
    fn glob(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], a) || (!a.is_empty() && glob(p, &a[1..])),
            (Some(b'?'), Some(_)) => glob(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x == y => glob(&p[1..], &a[1..]),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), arn.as_bytes())
}

/// The execute-api ARN prefix of this stack's API, as the policies' `!Sub` strings write it.
const API_ARN: &str = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ExportApi}";
const TAGGED: &str = "${!aws:PrincipalTag/chatAccountId}";

/// Whether a tenant's managed policy lets a principal tagged `chatAccountId = tag` call `METHOD
/// path` on the prod stage (the tag substituted as IAM substitutes the policy variable; a principal
/// without the tag is refused by the Null condition, which the test above requires of every statement).
fn tenant_may(policy: &Value, tag: &str, method: &str, path: &str) -> bool {
    let arn = format!("{API_ARN}/prod/{method}{path}");
    statements(&policy["Properties"]["PolicyDocument"]).iter().any(|statement| {
        statement["Effect"].as_str() == Some("Allow")
            && strings(&statement["Action"]).iter().any(|a| a == "execute-api:Invoke")
            && strings(&statement["Resource"]).iter().any(|r| arn_glob(&r.replace(TAGGED, tag), &arn))
    })
}

/// Each tenant policy allows exactly its routes (TENANT_POLICIES), DataExportFullAccess being Start,
/// Retrieve and Revoke together; RetrieveDataExport alone cannot revoke (issue 25: "RetrieveDataExport
/// alone cannot revoke"), nor StartDataExport, and a tenant's RevokeDataExport reaches its own
/// account's exports only, never another account's.
#[test]
fn each_tenant_policy_allows_exactly_its_routes_and_only_revoke_policies_revoke() {
    let template = template();
    let policies = resources_of_type(&template, "AWS::IAM::ManagedPolicy");
    for (name, routes) in TENANT_POLICIES {
        let policy = policies.get(name).unwrap_or_else(|| panic!("{name} is gone"));
        let mut allowed: Vec<String> = statements(&policy["Properties"]["PolicyDocument"])
            .iter()
            .flat_map(|s| strings(&s["Resource"]))
            .map(|resource| {
                let rest = resource
                    .strip_prefix(&format!("{API_ARN}/*/"))
                    .unwrap_or_else(|| panic!("{name}: {resource} is not a route of ExportApi, every stage"));
                let (method, path) = rest.split_once('/').unwrap_or_else(|| panic!("{name}: {resource}"));
                let path = path
                    .strip_prefix(&format!("accounts/{TAGGED}"))
                    .unwrap_or_else(|| panic!("{name}: {resource} is not under the tagged account"));
                format!("{method} {path}")
            })
            .collect();
        allowed.sort();
        let mut expected: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
        expected.sort();
        assert_eq!(allowed, expected, "{name}: the routes it allows");
    }
    // Every route of the API is some tenant policy's, so a tenant can be given any of them; a
    // /users route is the self-service policy's and no account's.
    let document = openapi();
    for (method, path, _) in openapi_routes(&document) {
        let path = path.replace("{exportId}", "*");
        if let Some(path) = path.strip_prefix("/users/{userId}") {
            let route = format!("{method} {path}");
            assert!(
                SELF_SERVICE_ROUTES.contains(&route.as_str()),
                "SelfServiceDataExport does not allow {route}"
            );
            continue;
        }
        let path = path.strip_prefix("/accounts/{accountId}").expect("every other route is under an account");
        let route = format!("{method} {path}");
        assert!(
            TENANT_POLICIES.iter().any(|(_, routes)| routes.contains(&route.as_str())),
            "no tenant policy allows {route}"
        );
    }
    // SelfServiceDataExport: exactly its routes, each under the caller's own chatUserId, the tag
    // required; and no account's policy, the operator's included, reaches a user's exports.
    let own = &policies["SelfServiceDataExportPolicy"];
    let statements_of = |p: &Value| statements(&p["Properties"]["PolicyDocument"]);
    let mut allowed: Vec<String> = statements_of(own)
        .iter()
        .flat_map(|s| strings(&s["Resource"]))
        .map(|resource| {
            let rest = resource.strip_prefix(&format!("{API_ARN}/*/")).expect("a route of ExportApi");
            let (method, path) = rest.split_once('/').unwrap();
            let path = path.strip_prefix(&format!("users/{TAGGED_USER}")).expect("under the tagged user");
            format!("{method} {path}")
        })
        .collect();
    allowed.sort();
    let mut expected: Vec<String> = SELF_SERVICE_ROUTES.iter().map(|r| r.to_string()).collect();
    expected.sort();
    assert_eq!(allowed, expected, "SelfServiceDataExport: the routes it allows");
    for statement in statements_of(own) {
        assert_eq!(strings(&statement["Action"]), ["execute-api:Invoke"]);
        assert_eq!(statement["Condition"]["Null"]["aws:PrincipalTag/chatUserId"].as_str(), Some("false"));
    }
    let user = "33333333-3333-4333-8333-333333333333";
    let mine = format!("{API_ARN}/prod/GET/users/{user}/data-exports");
    let theirs = format!("{API_ARN}/prod/GET/users/44444444-4444-4444-8444-444444444444/data-exports");
    let may = |p: &Value, arn: &str| {
        statements_of(p).iter().any(|s| {
            strings(&s["Resource"])
                .iter()
                .any(|r| arn_glob(&r.replace(TAGGED_USER, user).replace(TAGGED, user), arn))
        })
    };
    assert!(may(own, &mine) && !may(own, &theirs), "a user reaches their own exports only");
    for (name, policy) in &policies {
        if name != "SelfServiceDataExportPolicy" {
            assert!(!may(policy, &mine), "{name} reaches a self-service user's exports");
        }
    }

    // As IAM decides, for a principal tagged with account A.
    let (a, b) = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222");
    let export = "01KAW6ZQ5V0000000000000000";
    let revoke = |account: &str| format!("/accounts/{account}/data-exports/{export}/revoke");
    let get = format!("/accounts/{a}/data-exports/{export}");
    let retrieve = &policies["RetrieveDataExportPolicy"];
    assert!(tenant_may(retrieve, a, "GET", &get), "RetrieveDataExport reads its account's export");
    assert!(!tenant_may(retrieve, a, "POST", &revoke(a)), "RetrieveDataExport alone must not revoke");
    assert!(
        !tenant_may(&policies["StartDataExportPolicy"], a, "POST", &revoke(a)),
        "StartDataExport must not revoke"
    );
    for name in ["RevokeDataExportPolicy", "DataExportFullAccessPolicy"] {
        let policy = &policies[name];
        assert!(tenant_may(policy, a, "POST", &revoke(a)), "{name} revokes its own account's export");
        assert!(
            !tenant_may(policy, a, "POST", &revoke(b)),
            "{name} must not revoke another account's export"
        );
        assert!(
            !tenant_may(
                policy,
                a,
                "POST",
                &format!("/accounts/{b}/data-exports/{a}/data-exports/{export}/revoke")
            ),
            "{name}: a path naming the tagged account further down is still another account's"
        );
    }
    let revoker = &policies["RevokeDataExportPolicy"];
    assert!(
        !tenant_may(revoker, a, "GET", &get),
        "RevokeDataExport grants no read: the console group adds it"
    );
    assert!(
        !tenant_may(revoker, a, "POST", &format!("/accounts/{a}/data-exports")),
        "RevokeDataExport starts nothing"
    );
    // The operator reaches every account's revoke route, and the direct function.
    let operator = &policies["DataExportOperatorPolicy"];
    let operator_routes: Vec<String> = statements(&operator["Properties"]["PolicyDocument"])
        .iter()
        .filter(|s| strings(&s["Action"]).iter().any(|a| a == "execute-api:Invoke"))
        .flat_map(|s| strings(&s["Resource"]))
        .collect();
    assert!(
        operator_routes.iter().any(|r| arn_glob(r, &format!("{API_ARN}/prod/POST{}", revoke(b)))),
        "DataExportOperator revokes through the API for every account: {operator_routes:?}"
    );
}

/// The console's groups (issue 16, issue 25): each group's role carries the managed policies of its
/// name, RevokeDataExport's with RetrieveDataExport's too (revoking from the console needs to see
/// the export), every role trusts the console's identity pool only (authenticated identities), the
/// identity pool maps roles from the token's groups and denies an ambiguous one, and `make deploy`
/// finds each role among the outputs (config.json's "roles").
#[test]
fn each_console_group_carries_the_policies_of_its_name() {
    let template = template();
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("StartDataExport", vec!["StartDataExportPolicy"]),
        ("RetrieveDataExport", vec!["RetrieveDataExportPolicy"]),
        ("RevokeDataExport", vec!["RetrieveDataExportPolicy", "RevokeDataExportPolicy"]),
    ]);
    let groups = resources_of_type(&template, "AWS::Cognito::UserPoolGroup");
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut precedences = BTreeSet::new();
    let outputs = template["Outputs"].as_mapping().expect("Outputs");
    for (id, group) in &groups {
        let properties = &group["Properties"];
        let name = properties["GroupName"].as_str().unwrap_or_else(|| panic!("{id}: GroupName"));
        assert_eq!(ref_of(&properties["UserPoolId"]), Some("ConsoleUserPool"), "{id}");
        let precedence = properties["Precedence"].as_u64().unwrap_or_else(|| panic!("{id}: Precedence"));
        assert!(precedences.insert(precedence), "{id}: two groups share Precedence {precedence}");
        let (role, attribute) =
            get_att(&properties["RoleArn"]).unwrap_or_else(|| panic!("{id}: RoleArn by GetAtt"));
        assert_eq!(attribute, "Arn", "{id}");
        let role_resource = &template["Resources"][role.as_str()];
        assert_eq!(role_resource["Type"].as_str(), Some("AWS::IAM::Role"), "{id}: {role}");
        let mut policies: Vec<String> = role_resource["Properties"]["ManagedPolicyArns"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{role}: ManagedPolicyArns"))
            .iter()
            .map(|v| ref_of(v).unwrap_or_else(|| panic!("{role}: a policy by !Ref")).to_owned())
            .collect();
        policies.sort();
        assert!(role_resource["Properties"]["Policies"].is_null(), "{role}: no inline policy");
        let trust = statements(&role_resource["Properties"]["AssumeRolePolicyDocument"]);
        assert_eq!(trust.len(), 1, "{role}: one trust statement");
        assert_eq!(
            trust[0]["Principal"]["Federated"].as_str(),
            Some("cognito-identity.amazonaws.com"),
            "{role}"
        );
        assert_eq!(
            ref_of(&trust[0]["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"]),
            Some("ConsoleIdentityPool"),
            "{role}: the console's identity pool only"
        );
        assert_eq!(
            trust[0]["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"].as_str(),
            Some("authenticated"),
            "{role}: signed-in users only"
        );
        let output = outputs
            .iter()
            .find(|(_, o)| get_att(&o["Value"]) == Some((role.clone(), "Arn".to_owned())))
            .unwrap_or_else(|| panic!("{role}: no output names it (scripts/deploy_console.py reads one)"));
        let key = output.0.as_str().unwrap();
        assert!(
            read("scripts/deploy_console.py").contains(&format!("\"{key}\": \"{name}\"")),
            "deploy_console.py: {key}"
        );
        found.insert(name.to_owned(), policies);
    }
    let expected: BTreeMap<String, Vec<String>> = expected
        .into_iter()
        .map(|(g, ps)| (g.to_owned(), ps.into_iter().map(str::to_owned).collect()))
        .collect();
    assert_eq!(found, expected, "the console's groups and their roles' policies");
    let mapping = &template["Resources"]["ConsoleIdentityPoolRoles"]["Properties"]["RoleMappings"]["console"];
    assert_eq!(mapping["Type"].as_str(), Some("Token"), "roles come from the token's groups");
    assert_eq!(mapping["AmbiguousRoleResolution"].as_str(), Some("Deny"), "no default role");
    // The console knows each group's permission (console/src/session.ts).
    let session = read("console/src/session.ts");
    for group in found.keys() {
        assert!(session.contains(&format!("\"{group}\"")), "console/src/session.ts does not know {group}");
    }
}

/// Each function is invoked by exactly the callers of its trust path: every Lambda permission
/// names a service principal and the exact source (SourceArn); the API functions are API Gateway's
/// only, the sweep is its rules' only, and the direct functions have no resource policy at all.
/// The one public function, download-export, is everyone's through its function URL only: the two
/// statements Lambda requires of a URL with AuthType NONE, and nothing else.
#[test]
fn every_lambda_permission_names_its_source() {
    let template = template();
    let permissions = resources_of_type(&template, "AWS::Lambda::Permission");
    let mut invokers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut public = BTreeSet::new();
    for (id, permission) in &permissions {
        let properties = &permission["Properties"];
        if properties["Principal"].as_str() == Some("*") {
            let (function, _) = get_att(&properties["FunctionName"]).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(function, "DownloadExportFunction", "{id}: only the download function is public");
            assert!(properties["SourceArn"].is_null() && properties["SourceAccount"].is_null(), "{id}");
            let action = properties["Action"].as_str().unwrap_or_else(|| panic!("{id}: Action"));
            match action {
                "lambda:InvokeFunctionUrl" => {
                    assert_eq!(properties["FunctionUrlAuthType"].as_str(), Some("NONE"), "{id}");
                    assert!(properties["InvokedViaFunctionUrl"].is_null(), "{id}");
                }
                "lambda:InvokeFunction" => {
                    assert_eq!(properties["InvokedViaFunctionUrl"].as_bool(), Some(true), "{id}: URL only");
                }
                other => panic!("{id}: {other} for everyone"),
            }
            assert!(public.insert(action.to_owned()), "{id}: {action} granted twice");
            continue;
        }
        assert_eq!(properties["Action"].as_str(), Some("lambda:InvokeFunction"), "{id}");
        assert!(!properties["SourceArn"].is_null(), "{id}: a Lambda permission without SourceArn");
        let principal = properties["Principal"].as_str().unwrap_or_else(|| panic!("{id}: Principal"));
        assert!(principal.ends_with(".amazonaws.com"), "{id}: {principal} is not a service principal");
        let (function, attribute) = get_att(&properties["FunctionName"]).unwrap_or_else(|| panic!("{id}"));
        assert_eq!(attribute, "Arn", "{id}");
        invokers.entry(function).or_default().insert(principal.to_owned());
    }
    let expect = |principal: &str| BTreeSet::from([principal.to_owned()]);
    assert_eq!(invokers.get("StartExportApiFunction"), Some(&expect("apigateway.amazonaws.com")));
    assert_eq!(invokers.get("RetrieveExportApiFunction"), Some(&expect("apigateway.amazonaws.com")));
    assert_eq!(invokers.get("RevokeExportApiFunction"), Some(&expect("apigateway.amazonaws.com")));
    assert_eq!(invokers.get("SweepExportsFunction"), Some(&expect("events.amazonaws.com")));
    assert_eq!(
        public,
        BTreeSet::from(["lambda:InvokeFunction".to_owned(), "lambda:InvokeFunctionUrl".to_owned()]),
        "DownloadExportFunction: both statements of a public function URL"
    );
    assert!(!invokers.contains_key("DownloadExportFunction"), "the download function has no service invoker");
    let urls = resources_of_type(&template, "AWS::Lambda::Url");
    assert_eq!(urls.len(), 1, "one function URL");
    let url = &urls["DownloadExportUrl"]["Properties"];
    assert_eq!(get_att(&url["TargetFunctionArn"]).map(|(f, _)| f).as_deref(), Some("DownloadExportFunction"));
    assert_eq!(url["AuthType"].as_str(), Some("NONE"));
    assert!(url["Cors"].is_null(), "no CORS: links are navigated to, never read by another origin's script");
    // revoke-export-api is API Gateway's for the two revoke routes only (an account's, a user's own).
    let revoke_sources: Vec<String> = permissions
        .values()
        .filter(|p| {
            get_att(&p["Properties"]["FunctionName"]).is_some_and(|(f, _)| f == "RevokeExportApiFunction")
        })
        .flat_map(|p| strings(&p["Properties"]["SourceArn"]))
        .collect();
    assert_eq!(
        revoke_sources,
        [
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ExportApi}/*/POST/accounts/*/data-exports/*/revoke",
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ExportApi}/*/POST/users/*/data-exports/*/revoke"
        ],
        "RevokeExportApiFunction: the revoke routes only"
    );
    for direct in ["StartExportFunction", "RetrieveExportFunction", "RevokeExportFunction"] {
        assert!(
            !invokers.contains_key(direct),
            "{direct} is for IAM principals with DataExportOperator only"
        );
    }
}

/// `make build` builds exactly the template's functions (Makefile `LAMBDA_BINARIES`), and the local
/// stack serves exactly them (infra/local/up.sh `FUNCTIONS`).
#[test]
fn make_build_and_the_local_stack_cover_exactly_the_template_functions() {
    let template = template();
    let deployed: BTreeSet<String> = resources_of_type(&template, "AWS::Serverless::Function")
        .values()
        .map(|f| f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned())
        .collect();
    let makefile = read("Makefile");
    let line = makefile.lines().find(|l| l.starts_with("LAMBDA_BINARIES :=")).expect("LAMBDA_BINARIES");
    let built: BTreeSet<String> =
        line.trim_start_matches("LAMBDA_BINARIES :=").split_whitespace().map(str::to_owned).collect();
    assert_eq!(built, deployed, "Makefile LAMBDA_BINARIES");
    let up = read("infra/local/up.sh");
    let line = up.lines().find(|l| l.starts_with("FUNCTIONS=")).expect("FUNCTIONS in up.sh");
    let served: BTreeSet<String> =
        line.trim_start_matches("FUNCTIONS=").trim_matches('"').split(',').map(str::to_owned).collect();
    assert_eq!(served, deployed, "infra/local/up.sh FUNCTIONS");
}

/// The SUCCEEDED_WITH_ERRORS alarm counts write-manifest's own log line: the metric filter's
/// message and field are the ones `Finisher::finalize` logs (flattened JSON on Lambda), on
/// write-manifest's log group, and the alarm watches the metric it writes.
#[test]
fn the_succeeded_with_errors_alarm_counts_the_line_finalize_logs() {
    let template = template();
    let filter = &template["Resources"]["ExportsWithErrorsMetricFilter"]["Properties"];
    let pattern = filter["FilterPattern"].as_str().unwrap();
    assert!(
        pattern.contains(r#"$.message = "export succeeded""#) && pattern.contains("$.errors > 0"),
        "{pattern}"
    );
    let log_group = serde_yaml::to_string(&filter["LogGroupName"]).unwrap();
    assert_eq!(log_group.trim(), "!Ref WriteManifestLogGroup");
    let finalize = read("crates/core/src/rules/pipeline/finalize.rs");
    assert!(finalize.contains("errors = error_count") && finalize.contains("\"export succeeded\""));
    assert!(read("crates/entry/src/telemetry.rs").contains("flatten_event(true)"));
    let metric = filter["MetricTransformations"][0]["MetricName"].as_str().unwrap();
    let alarm = &template["Resources"]["ExportsWithErrorsAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"].as_str(), Some(metric));
    assert_eq!(alarm["Namespace"], filter["MetricTransformations"][0]["MetricNamespace"]);
}

/// `make deploy` writes the console's config.json from the stack's outputs
/// (scripts/deploy_console.py): every output it reads is one the template declares, and the file
/// it writes holds exactly what the console requires (console/src/config.ts), nothing more.
#[test]
fn the_deployed_consoles_config_comes_from_the_templates_outputs() {
    let mut deploy = DeployConsole::new(&template());
    let run = deploy.run(&["--region", "eu-west-1", "--print-config"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let config: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(config["region"], "eu-west-1");
    assert_eq!(config["apiUrl"], "value-of-ApiUrl");
    assert_eq!(config["userPoolId"], "value-of-ConsoleUserPoolId");
    assert_eq!(config["userPoolClientId"], "value-of-ConsoleUserPoolClientId");
    assert_eq!(config["identityPoolId"], "value-of-ConsoleIdentityPoolId");
    assert_eq!(config["chatUserIdentityPoolId"], "value-of-ChatUserIdentityPoolId");
    assert_eq!(config["roles"]["StartDataExport"], "value-of-ConsoleStartRoleArn");
    assert_eq!(config["roles"]["RetrieveDataExport"], "value-of-ConsoleRetrieveRoleArn");
    assert_eq!(config["roles"]["RevokeDataExport"], "value-of-ConsoleRevokeRoleArn");
    // The console's own list of required keys, as its loader reads them.
    let loader = read("console/src/config.ts");
    let keys: BTreeSet<&str> = config.as_object().unwrap().keys().map(String::as_str).collect();
    for key in &keys {
        assert!(
            loader.contains(&format!("{key}:")),
            "config.json has {key}, which the console does not read"
        );
    }
    assert_eq!(keys.len(), 7, "no local-only endpoint in the deployed config: {keys:?}");
    // An output the script reads that the template lacks is refused, not written as a blank.
    deploy.outputs.remove("ConsoleIdentityPoolId");
    let refused = deploy.run(&["--print-config"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ConsoleIdentityPoolId"));
}

/// The deployed index.html pins connect-src to this stack's API stage and Cognito endpoints
/// (scripts/deploy_console.py), before any script or style; every source it names is one the
/// response-headers policy allows too, so the two policies together allow exactly the pinned ones.
#[test]
fn the_deployed_console_pins_its_connections_to_this_stack() {
    let template = template();
    let mut deploy = DeployConsole::new(&template);
    let api = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod";
    deploy.outputs.insert("ApiUrl".into(), api.into());
    let run = deploy.run(&["--region", "eu-west-1", "--print-index"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let index = String::from_utf8(run.stdout).unwrap();
    let pinned = "connect-src &#x27;self&#x27; https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/ \
                  https://cognito-idp.eu-west-1.amazonaws.com/ https://cognito-identity.eu-west-1.amazonaws.com/";
    let meta = format!(r#"<meta http-equiv="Content-Security-Policy" content="{pinned}">"#);
    let at = index.find(&meta).unwrap_or_else(|| panic!("no pinned policy in {index}"));
    for later in ["<script", "<link", "<style"] {
        assert!(index.find(later).is_none_or(|i| i > at), "{later} comes before the policy");
    }
    // The header's connect-src (with this region's values) allows every pinned source.
    let csp = match &template["Resources"]["ConsoleResponseHeadersPolicy"]["Properties"]
        ["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    {
        serde_yaml::Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().expect("a !Sub string").to_owned(),
        other => panic!("the CSP is not a !Sub string: {other:?}"),
    }
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${AWS::URLSuffix}", "amazonaws.com");
    let header: Vec<&str> = csp
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("connect-src "))
        .expect("the header has connect-src")
        .split_whitespace()
        .collect();
    for source in [
        "'self'",
        "https://*.execute-api.eu-west-1.amazonaws.com",
        "https://cognito-idp.eu-west-1.amazonaws.com",
        "https://cognito-identity.eu-west-1.amazonaws.com",
    ] {
        assert!(header.contains(&source), "the header's connect-src lacks {source}: {header:?}");
    }
    // An API URL that cannot be a CSP source is refused, not written into the page.
    deploy.outputs.insert("ApiUrl".into(), "https://x.example/prod; script-src *".into());
    let refused = deploy.run(&["--print-index"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("cannot be a connect-src source"));
}

/// scripts/deploy_console.py on a stack's outputs given as a file (no AWS call): every output the
/// template declares, as `value-of-<key>` until a test changes it.
struct DeployConsole {
    dir: std::path::PathBuf,
    outputs: BTreeMap<String, String>,
}

impl DeployConsole {
    fn new(template: &serde_yaml::Value) -> Self {
        let outputs = template["Outputs"]
            .as_mapping()
            .expect("Outputs")
            .keys()
            .map(|k| {
                let key = k.as_str().unwrap().to_owned();
                (key.clone(), format!("value-of-{key}"))
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("deploy-console-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, outputs }
    }

    /// Runs the script with ARGS and `--outputs-json` the current outputs.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let file = self.dir.join("outputs.json");
        std::fs::write(&file, serde_json::to_string(&self.outputs).unwrap()).unwrap();
        std::process::Command::new("python3")
            .arg(repo_root().join("scripts/deploy_console.py"))
            .args(args)
            .arg("--outputs-json")
            .arg(&file)
            .output()
            .expect("python3 runs scripts/deploy_console.py")
    }
}

impl Drop for DeployConsole {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
