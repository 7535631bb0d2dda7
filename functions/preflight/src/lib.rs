//! `OPTIONS` on every path of the REST API: a browser's preflight, answered without a
//! token, `204` with the path's methods for an allowed origin (and nothing of CORS for
//! another, which the browser then refuses).

use edge::config::Function;
use edge::cors::AllowedOrigins;
use edge::routes::{methods_of, resource_of};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

pub async fn handle(cors: &AllowedOrigins, event: Request) -> Response<Body> {
    let span =
        tracing::info_span!("invocation", request_id = %edge::http::request_id(&event), path = %event.uri().path());
    async {
        // API Gateway names the route; a path matched here is the same route.
        let resource = match event.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => context.resource_path.clone(),
            _ => None,
        }
        .or_else(|| resource_of(event.uri().path()).map(|(resource, _)| resource.to_owned()));
        let methods = resource.as_deref().map(methods_of).unwrap_or_default();
        let mut response = Response::new(Body::Empty);
        *response.status_mut() = if methods.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::NO_CONTENT };
        cors.preflight(event.headers(), &methods, response.headers_mut());
        tracing::info!(status = response.status().as_u16(), "preflight");
        response
    }
    .instrument(span)
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    let config = edge::run::configure(Function::Preflight)?;
    let cors: &'static AllowedOrigins = Box::leak(Box::new(config.cors));
    lambda_http::run(lambda_http::service_fn(move |event: Request| async move {
        Ok::<_, std::convert::Infallible>(handle(cors, event).await)
    }))
    .await
}
