//! What `template.yaml` must say that cfn-lint, `sam validate` and checkov do not check:
//! read as YAML (CloudFormation's `!Ref` and friends are tagged values here).

use std::collections::{BTreeMap, BTreeSet};

use dev::kit::template;
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

#[test]
fn each_function_gets_only_the_environment_it_reads() {
    let template = template();
    let global = names(&template["Globals"]["Function"]["Environment"]["Variables"]);
    let every_function_reads = ["TABLE_NAME", "RUST_LOG", "AWS_ENDPOINT_URL_DYNAMODB"].map(str::to_owned);
    assert_eq!(global, BTreeSet::from(every_function_reads), "what every function reads");
    let jwt = ["JWT_SECRET", "JWT_SECRET_ARN", "JWT_PUBLIC_KEY", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_LEEWAY_SECONDS"];
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("ListRequestsFunction", jwt.to_vec()),
        ("GetRequestFunction", jwt.to_vec()),
        ("CreateRequestFunction", [jwt.as_slice(), &["EVENT_BUS_NAME"]].concat()),
        (
            "PatchRequestFunction",
            [jwt.as_slice(), &["EVENT_BUS_NAME", "JOIN_GROUP_CHAT_POINTS", "REJECTION_COOLDOWN_SECONDS"]].concat(),
        ),
        ("WithdrawRequestFunction", [jwt.as_slice(), &["EVENT_BUS_NAME"]].concat()),
        ("ChatRequestsFunction", jwt.to_vec()),
        ("ListEventsFunction", jwt.to_vec()),
        (
            "DecideRequestsFunction",
            [jwt.as_slice(), &["EVENT_BUS_NAME", "JOIN_GROUP_CHAT_POINTS", "REJECTION_COOLDOWN_SECONDS"]].concat(),
        ),
        ("WsConnectFunction", jwt.to_vec()),
        ("WsDisconnectFunction", vec![]),
        ("NotifierFunction", vec!["WEBSOCKET_ENDPOINT"]),
        ("OutboxSweeperFunction", vec!["EVENT_BUS_NAME"]),
        ("ExpireRequestsFunction", vec!["EVENT_BUS_NAME", "REQUEST_EXPIRY_DAYS"]),
    ]);
    let resources = template["Resources"].as_mapping().unwrap();
    let functions: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .filter_map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(functions, expected.keys().copied().collect(), "every function is listed here");
    for (function, variables) in expected {
        let own = names(&template["Resources"][function]["Properties"]["Environment"]["Variables"]);
        let wanted: BTreeSet<String> = variables.iter().map(|v| v.to_string()).collect();
        assert_eq!(own, wanted, "{function}");
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
    assert_eq!(functions.len(), 13, "every function");
    for (name, function) in functions {
        let policies = function["Properties"]["Policies"].as_sequence().expect("policies");
        let references = policies.iter().filter_map(|p| serde_yaml::to_string(p).ok());
        assert!(
            references.filter(|p| p.contains("!Ref") && p.contains("ConnectAtInitPolicy")).count() == 1,
            "{name} has ConnectAtInitPolicy"
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
