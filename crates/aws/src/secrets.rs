//! The Secrets Manager adapter: the one secret the service reads.

/// The `SecretString` of the secret `arn`: one `GetSecretValue`, bounded like every AWS
/// call. Read once per cold start, by the functions that verify tokens.
pub async fn secret_string(config: &aws_types::SdkConfig, arn: &str) -> Result<String, String> {
    let client = aws_sdk_secretsmanager::Client::new(config);
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())?;
    let secret = output.secret_string().filter(|text| !text.is_empty());
    secret.map(str::to_owned).ok_or_else(|| "it has no SecretString".to_owned())
}
