//! What `template.yaml` must say that cfn-lint, `sam validate` and checkov do not check:
//! read as YAML (CloudFormation's `!Ref` and friends are tagged values here).

use std::collections::{BTreeMap, BTreeSet};

use dev::kit::template;
use edge::config::{Config, Env, Function, SetBy, Variable, VARIABLES};
use serde_yaml::Value;

fn names(map: &Value) -> BTreeSet<String> {
    map.as_mapping().into_iter().flatten().filter_map(|(k, _)| k.as_str().map(str::to_owned)).collect()
}

#[test]
fn the_dead_letter_queue_takes_messages_only_from_the_notifiers_rule() {
    let template = template();
    let statements =
        &template["Resources"]["NotifierDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let statements = statements.as_sequence().expect("statements");
    assert!(!statements.is_empty());
    for statement in statements {
        let source = &statement["Condition"]["ArnEquals"]["aws:SourceArn"];
        let tagged = serde_yaml::to_string(source).unwrap();
        assert!(tagged.contains("GetAtt") && tagged.contains("NotifierFunctionRule.Arn"), "{tagged}");
    }
}

/// The environment as AWS gives it: every variable Lambda or the template sets, each to
/// a value its parser takes, so that each function reads its sections to the end.
fn complete_env() -> Env {
    let value = |v: &Variable| match v.name {
        "JWT_SECRET" | "JWT_SECRET_ARN" | "JWT_PUBLIC_KEY" | "JWT_ISSUER" | "JWT_AUDIENCE" => "x",
        "AWS_ENDPOINT_URL" | "AWS_ENDPOINT_URL_DYNAMODB" | "AWS_ENDPOINT_URL_EVENTBRIDGE" => "http://127.0.0.1:9",
        "WEBSOCKET_ENDPOINT" => "http://127.0.0.1:9",
        "CONNECT_AT_INIT" => "true",
        _ => v.default.filter(|d| d.parse::<i64>().is_ok()).unwrap_or("7"),
    };
    Env::of_pairs(VARIABLES.iter().filter(|v| v.set_by != SetBy::Default).map(|v| (v.name, value(v))))
}

#[test]
fn each_function_gets_exactly_the_environment_it_reads() {
    let template = template();
    let global = names(&template["Globals"]["Function"]["Environment"]["Variables"]);
    let resources = template["Resources"].as_mapping().unwrap();
    let functions: BTreeMap<String, &Value> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(_, r)| (r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_default().to_owned(), r))
        .collect();
    let known: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(functions.keys().cloned().collect::<BTreeSet<_>>(), known, "every function of the template, by binary");
    for function in Function::ALL {
        let env = complete_env();
        Config::of_function(function, &env).unwrap_or_else(|e| panic!("{}: {e}", function.name()));
        let from_template: BTreeSet<String> = env
            .read_so_far()
            .into_iter()
            .filter(|name| VARIABLES.iter().any(|v| v.name == *name && v.set_by == SetBy::Template))
            .map(str::to_owned)
            .collect();
        let own = names(&functions[function.name()]["Properties"]["Environment"]["Variables"]);
        let given: BTreeSet<String> = global.union(&own).cloned().collect();
        assert_eq!(given, from_template, "{}: what the template gives is what it reads", function.name());
    }
}

#[test]
fn the_documented_variables_are_the_configuration_s() {
    let text = std::fs::read_to_string(dev::kit::repo_root().join("docs/configuration.md")).unwrap();
    let cell = |row: &str, n: usize| row.split('|').nth(n).unwrap_or_default().trim().trim_matches('`').to_owned();
    let documented: Vec<(String, String, String)> = text
        .lines()
        .skip_while(|l| !l.starts_with("| variable | section |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| (cell(row, 1), cell(row, 2), cell(row, 3)))
        .collect();
    let configured: Vec<(String, String, String)> = VARIABLES
        .iter()
        .map(|v| (v.name.to_owned(), format!("{:?}", v.section), v.default.unwrap_or("–").to_owned()))
        .collect();
    assert_eq!(documented, configured, "docs/configuration.md lists VARIABLES, in order, with their defaults");

    let sections: BTreeMap<String, String> = text
        .lines()
        .skip_while(|l| !l.starts_with("| function | sections"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|row| {
            let listed = cell(row, 2);
            cell(row, 1).split(", ").map(move |f| (f.to_owned(), listed.clone())).collect::<Vec<_>>()
        })
        .collect();
    for function in Function::ALL {
        let taken: Vec<String> = function.sections().iter().map(|s| format!("{s:?}")).collect();
        let expected = if taken.is_empty() { "–".to_owned() } else { taken.join(", ") };
        assert_eq!(sections.get(function.name()), Some(&expected), "{}", function.name());
    }
}

#[test]
fn a_deploy_without_any_key_is_refused_by_the_template() {
    let template = template();
    let rule = serde_yaml::to_string(&template["Rules"]["AKeyIsConfigured"]["Assertions"]).unwrap();
    for parameter in ["JwtSecret", "JwtSecretArn", "JwtPublicKey"] {
        assert!(rule.contains(&format!("!Ref {parameter}")) || rule.contains(parameter), "{parameter} in {rule}");
    }
    assert!(rule.contains("Not") && rule.contains("And") && rule.contains("Equals"), "{rule}");
    for alarm in ["DeadLetterQueueAlarm", "OutboxSetAsideAlarm", "OutboxAgeAlarm"] {
        assert_eq!(template["Resources"][alarm]["Type"], "AWS::CloudWatch::Alarm", "{alarm}");
    }
    assert_eq!(template["Globals"]["Function"]["Tracing"], "Active");
}

#[test]
fn every_function_may_open_its_connection_at_init_and_that_read_only() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("resources");
    let functions: Vec<(&str, &Value)> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .filter_map(|(name, resource)| Some((name.as_str()?, resource)))
        .collect();
    assert_eq!(functions.len(), Function::ALL.len(), "every function");
    for (name, function) in functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_default();
        let of = Function::ALL.iter().find(|f| f.name() == binary).unwrap_or_else(|| panic!("{name}: {binary}"));
        let opens_the_table = of.sections().contains(&edge::config::Section::Table);
        let policies = function["Properties"]["Policies"].as_sequence().map(Vec::as_slice).unwrap_or_default();
        let references = policies.iter().filter_map(|p| serde_yaml::to_string(p).ok());
        let connect_at_init = references.filter(|p| p.contains("!Ref") && p.contains("ConnectAtInitPolicy")).count();
        assert_eq!(
            connect_at_init,
            usize::from(opens_the_table),
            "{name} has ConnectAtInitPolicy iff it opens the table"
        );
    }

    let statements = &template["Resources"]["ConnectAtInitPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let statements = statements.as_sequence().expect("statements");
    assert_eq!(statements.len(), 1);
    let statement = &statements[0];
    assert_eq!(statement["Action"], serde_yaml::from_str::<Value>("[dynamodb:GetItem]").unwrap());
    let leading_keys = &statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
    assert_eq!(leading_keys, &Value::Sequence(vec![Value::from(aws::store::inspect::CONNECT_AT_INIT)]));
}

#[test]
fn the_local_table_is_the_table_the_template_declares() {
    use aws::store::{IndexDefinition, TABLE};
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    let attributes: Vec<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["AttributeName"].as_str().unwrap().to_owned(), a["AttributeType"].as_str().unwrap().to_owned()))
        .collect();
    let defined: Vec<(String, String)> = TABLE.attributes.iter().map(|a| (a.to_string(), "S".to_owned())).collect();
    assert_eq!(attributes, defined, "the attribute definitions");
    let key_schema = |schema: &Value| -> (String, String) {
        let of = |kind: &str| {
            let element = schema.as_sequence().unwrap().iter().find(|k| k["KeyType"] == kind).unwrap();
            element["AttributeName"].as_str().unwrap().to_owned()
        };
        (of("HASH"), of("RANGE"))
    };
    assert_eq!(key_schema(&table["KeySchema"]), (TABLE.partition.to_owned(), TABLE.sort.to_owned()));
    let indexes = |name: &str| -> Vec<(String, String, String)> {
        table[name]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|index| {
                assert_eq!(index["Projection"]["ProjectionType"], "ALL", "{index:?}");
                let (partition, sort) = key_schema(&index["KeySchema"]);
                (index["IndexName"].as_str().unwrap().to_owned(), partition, sort)
            })
            .collect()
    };
    let defined = |all: &[IndexDefinition]| -> Vec<(String, String, String)> {
        all.iter().map(|i| (i.name.to_owned(), i.partition.to_owned(), i.sort.to_owned())).collect()
    };
    assert_eq!(indexes("GlobalSecondaryIndexes"), defined(TABLE.global_indexes));
    assert_eq!(indexes("LocalSecondaryIndexes"), defined(TABLE.local_indexes));
}

#[test]
fn the_webhook_exists_only_with_its_url_and_its_queue_takes_only_its_rule() {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("resources");
    let webhook: Vec<&str> = resources.keys().filter_map(Value::as_str).filter(|n| n.starts_with("Webhook")).collect();
    assert_eq!(webhook.len(), 7, "{webhook:?}");
    for name in webhook {
        assert_eq!(template["Resources"][name]["Condition"].as_str(), Some("HasWebhook"), "{name}");
    }
    let policy = &template["Resources"]["WebhookDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    let source = serde_yaml::to_string(&policy["Condition"]["ArnEquals"]["aws:SourceArn"]).unwrap();
    assert!(source.contains("WebhookRule.Arn"), "{source}");
    let target = &template["Resources"]["WebhookRule"]["Properties"]["Targets"][0];
    assert!(target["DeadLetterConfig"].is_mapping() && target["RetryPolicy"].is_mapping(), "retried, then kept");
}
