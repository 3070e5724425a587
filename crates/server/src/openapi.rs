//! The OpenAPI 3 document of the HTTP API and the endpoint that serves it,
//! `GET /api/v1/openapi.json`. The document is generated from the code: each handler's own
//! `#[utoipa::path]` annotation, the request types it parses, and the error type every endpoint
//! answers with ([`crate::error`]'s `ErrorBody`). This module owns the list of documented paths,
//! the `bearer` security scheme, and the schemas of the domain's enums that requests carry; its
//! tests check the document against the router's own table of endpoints
//! ([`crate::routes::endpoints`]), so an endpoint cannot be added without being documented.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use modeltrail_domain::actions::UserKind;
use modeltrail_domain::roles::{Permission, Role};
use modeltrail_domain::signature::Meaning;
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::routes::mlflow::wire::MlflowErrorBody;
use crate::routes::{
    self, assessments, auth, charts, datasets, decisions, fairness_file, feedback, ledger, lineage,
    monitoring, notifications, qualification, records, release, reports, users, validation,
    workflow,
};
use crate::state::Shared;

/// The name of the security scheme every authenticated endpoint declares.
pub const BEARER: &str = "bearer";
/// HTTP Basic, which the MLflow API also takes (MLflow's `MLFLOW_TRACKING_USERNAME`/`PASSWORD`).
pub const BASIC: &str = "basic";

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "modeltrail",
        version = env!("CARGO_PKG_VERSION"),
        description = "A tamper-evident audit trail for GxP machine-learning models: versioned \
                       records with reasons and electronic signatures, every change an event in \
                       an append-only, signed Merkle log with inclusion and consistency proofs.\n\n\
                       Every error answers with one JSON shape, `ErrorBody`: \
                       `{\"error\": {\"code\", \"message\", \"field\"}}`. Everything but \
                       `/healthz`, the login, and the public checkpoint and key needs \
                       `Authorization: Bearer <token>`: a session token from the login or a \
                       service account's API token.",
    ),
    paths(
        routes::health,
        routes::metrics,
        document,
        auth::login,
        auth::logout,
        auth::me,
        auth::change_password,
        users::list,
        users::create,
        users::get_one,
        users::change_role,
        users::lock,
        users::unlock,
        users::reset_password,
        users::tokens,
        users::issue_token,
        users::revoke_token,
        users::alerts,
        records::types,
        records::schema,
        records::list,
        records::create,
        records::read,
        records::update,
        records::void,
        records::history,
        records::read_version,
        records::diff,
        records::sign,
        workflow::transition,
        workflow::workflow,
        release::readiness,
        release::deploy,
        validation::record,
        qualification::record,
        datasets::upload,
        assessments::fairness,
        fairness_file::fairness_file,
        assessments::explanation,
        monitoring::record_batch,
        monitoring::record_batch_file,
        feedback::escalate,
        decisions::record,
        decisions::record_batch,
        decisions::list,
        decisions::read,
        decisions::proof,
        decisions::review,
        decisions::stats,
        charts::batch_chart,
        charts::model_version_chart,
        reports::dossier_html,
        reports::dossier_pdf,
        lineage::record,
        lineage::run,
        lineage::dataset,
        lineage::jobs,
        notifications::subscribe,
        notifications::list,
        notifications::read,
        notifications::unsubscribe,
        notifications::request_signature,
        ledger::checkpoint,
        ledger::public_key,
        ledger::events,
        ledger::inclusion,
        ledger::consistency,
    ),
    components(schemas(ErrorBody, MlflowErrorBody)),
    modifiers(&BearerScheme, &OptionalBodies, &MlflowPaths),
    tags(
        (name = "service", description = "Health, metrics and this document."),
        (name = "auth", description = "Logging in and out, the caller's account, changing one's password."),
        (name = "users", description = "User administration and security alerts."),
        (name = "records", description = "Versioned records, their history and electronic signatures."),
        (name = "release", description = "Validation results evaluated by the server, release readiness and deployments through the release gate."),
        (name = "monitoring", description = "Monitoring batches evaluated by the server under an approved monitoring plan: drift, performance, anomalies, and the exception and change request a breach raises."),
        (name = "decisions", description = "Decision records: every prediction of a deployed model version (input digest, output, confidence, attributions) by its serving system's service account, one ledger leaf each, singly or 10,000 JSON lines at a time; proofs by request id; the review queue of low-confidence outputs and signed reviews; the override rate as a monitored metric; queries and statistics."),
        (name = "reports", description = "Reports for people: a model version's validation dossier as self-contained HTML or paginated PDF, each recorded in the log as `report.generated` with its SHA-256 and the checkpoint it was drawn at."),
        (name = "lineage", description = "OpenLineage RunEvents (spec 2-0-2) from pipelines, logged by the caller, and the jobs, runs and datasets they add up to, linked to training runs and dataset versions."),
        (name = "notifications", description = "Webhook subscriptions to notifications (drift breaches, exceptions raised, overdue CAPA actions, security alerts, signature requests), HMAC-signed, delivered at least once with exponential backoff from an outbox kept in the log, every attempt visible."),
        (name = "ledger", description = "The signed checkpoint, the log's key, its events and proofs."),
        (name = "mlflow", description = "MLflow's tracking and model-registry REST API (also under `/ajax-api/2.0/mlflow/`) and its artifact proxy, for the unmodified `mlflow` client: request and answer bodies are MLflow's (see MLflow's `service.proto` and `model_registry.proto`), GET parameters are in the query string, errors are `{\"error_code\", \"message\"}`. Every change is logged as `mlflow.*` events by the authenticated caller; `Authorization` is Bearer (a session or API token) or Basic (user id and password, checked as the login checks them)."),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the annotations refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque token")
                    .description(Some(
                        "A session token from `POST /api/v1/auth/login`, or a service account's \
                         API token.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the MLflow API from its route table: one operation per method and path, its
/// summary, both security schemes, and MLflow's error body for every refusal.
struct MlflowPaths;

impl Modify for MlflowPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
        use utoipa::openapi::security::SecurityRequirement;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BASIC,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "User id and password on each request (the MLflow API only), checked as \
                         the login checks them: failures are logged and lock the account at the \
                         threshold.",
                    ))
                    .build(),
            ),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("MlflowErrorBody")))
                        .build(),
                )
                .build()
        };
        for doc in crate::routes::mlflow::docs() {
            let method = match doc.method.as_str() {
                "GET" => HttpMethod::Get,
                "POST" => HttpMethod::Post,
                "PUT" => HttpMethod::Put,
                "PATCH" => HttpMethod::Patch,
                _ => HttpMethod::Delete,
            };
            let id: String = format!("mlflow_{}_{}", doc.method.as_str().to_lowercase(), doc.path)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let who = match doc.write {
                true => "developer, qa, or a service account with one of those roles",
                false => "any signed-in role",
            };
            let mut operation = OperationBuilder::new()
                .tag("mlflow")
                .summary(Some(doc.summary))
                .description(Some(format!("MLflow-compatible. Allowed to: {who}.")))
                .operation_id(Some(id))
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::new(BASIC, Vec::<String>::new()))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("MLflow's response message as JSON (artifact downloads: the file's bytes).")
                        .build(),
                )
                .response("400", error("`INVALID_PARAMETER_VALUE`, `RESOURCE_ALREADY_EXISTS` or `BAD_REQUEST`: the request is not acceptable; the message says why."))
                .response("401", error("`UNAUTHENTICATED`: no valid credentials (a wrong password is logged and counts toward the lockout)."))
                .response("403", error("`PERMISSION_DENIED`: the caller's role may not do this, or the password must be changed first. Logged as `access.denied`."))
                .response("404", error("`RESOURCE_DOES_NOT_EXIST`: no such experiment, run, model, version, alias or artifact."));
            if doc.write {
                operation = operation.response("409", error("`RESOURCE_CONFLICT`: refused by the state of something else, such as the release gate for a transition to Production (every unmet condition is named)."));
            }
            for name in doc
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            {
                operation = operation.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String).build())),
                );
            }
            openapi
                .paths
                .add_path_operation(doc.path, vec![method], operation.build());
        }
    }
}

/// utoipa writes an optional request body (`Option<T>` in an annotation) as "null or T". Here an
/// optional body is one that may be left out, and a `null` body is refused, so its schema is T's.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let Some(body) = &mut operation.request_body else {
                    continue;
                };
                if body.required == Some(Required::True) {
                    continue;
                }
                for content in body.content.values_mut() {
                    let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                        continue;
                    };
                    let mut rest = one_of.items.iter().filter(|s| !is_null(s));
                    if let (Some(only), None) = (rest.next(), rest.next()) {
                        content.schema = Some(only.clone());
                    }
                }
            }
        }
    }
}

/// The document as served, made once.
pub fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serialises")
    })
}

/// This document
///
/// The OpenAPI 3 document of this API, generated from the handlers.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden` or `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn document(State(state): State<Shared>, who: Principal) -> Result<Response, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json()).into_response())
}

/// A string schema with the given values and description.
fn string_enum(values: impl IntoIterator<Item = Value>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// Every role, as requests name them.
pub fn role_schema() -> Object {
    string_enum(
        Role::ALL.into_iter().map(|r| serde_json::json!(r)),
        "A role: what its holder may do.",
    )
}

/// Every signature meaning. The match makes a new meaning a compile error here until it is
/// listed.
const MEANINGS: [Meaning; 5] = {
    use Meaning::*;
    const fn listed(m: Meaning) {
        match m {
            Authored | Reviewed | Approved | Verified | Responsible => {}
        }
    }
    listed(Authored);
    [Authored, Reviewed, Approved, Verified, Responsible]
};

pub fn meaning_schema() -> Object {
    string_enum(
        MEANINGS.into_iter().map(|m| serde_json::json!(m)),
        "What the signature means (21 CFR 11.50(a)(3)).",
    )
}

/// Every kind of user; as with [`MEANINGS`], the match keeps the list whole.
const USER_KINDS: [UserKind; 2] = {
    use UserKind::*;
    const fn listed(k: UserKind) {
        match k {
            Person | Service => {}
        }
    }
    listed(Person);
    [Person, Service]
};

pub fn user_kind_schema() -> Object {
    ObjectBuilder::from(string_enum(
        USER_KINDS.into_iter().map(|k| serde_json::json!(k)),
        "A person logs in with a password; a service account uses API tokens only.",
    ))
    .default(Some(serde_json::json!(UserKind::Person)))
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn document() -> Value {
        serde_json::from_str(json()).unwrap()
    }

    /// Every (method, path) of the document.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
        found
    }

    #[test]
    fn every_routed_endpoint_is_documented_and_nothing_else() {
        let routed: BTreeSet<(String, String)> = routes::endpoints()
            .into_iter()
            .map(|e| (e.method.to_string(), e.path.to_owned()))
            .collect();
        let documented = documented(&document());
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty() && unrouted.is_empty(),
            "routed but not documented: {undocumented:?}; documented but not routed: {unrouted:?}"
        );
        assert_eq!(routed.len(), routes::endpoints().len(), "a route twice");
    }

    #[test]
    fn only_health_login_checkpoint_and_key_are_open() {
        let doc = document();
        let open = [
            ("GET", "/healthz"),
            ("POST", "/api/v1/auth/login"),
            ("GET", "/api/v1/checkpoint"),
            ("GET", "/api/v1/log/public-key"),
        ];
        for (method, path) in documented(&doc) {
            let operation = &doc["paths"][&path][method.to_lowercase()];
            let security = &operation["security"];
            if open.contains(&(method.as_str(), path.as_str())) {
                assert!(security.is_null(), "{method} {path} is open: {security}");
            } else if crate::routes::mlflow::is_mlflow_path(&path) {
                assert_eq!(
                    *security,
                    serde_json::json!([{ BEARER: [] }, { BASIC: [] }]),
                    "{method} {path} takes the bearer token or Basic"
                );
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{method} {path} has no 401");
            } else {
                assert_eq!(
                    *security,
                    serde_json::json!([{ BEARER: [] }]),
                    "{method} {path} needs the bearer token"
                );
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{method} {path} has no 401");
            }
        }
        let scheme = &doc["components"]["securitySchemes"][BEARER];
        assert_eq!(scheme["type"], "http");
        assert_eq!(scheme["scheme"], "bearer");
        assert_eq!(scheme["bearerFormat"], "opaque token");
    }

    #[test]
    fn every_error_response_is_the_error_body() {
        let doc = document();
        for (method, path) in documented(&doc) {
            let operation = &doc["paths"][&path][method.to_lowercase()];
            assert!(
                operation["tags"].as_array().is_some_and(|t| t.len() == 1),
                "{method} {path} has one tag"
            );
            assert!(operation["summary"].is_string(), "{method} {path} summary");
            for (status, response) in operation["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} has a description"
                );
                let json = &response["content"]["application/json"]["schema"]["$ref"];
                let body = match crate::routes::mlflow::is_mlflow_path(&path) {
                    true => "#/components/schemas/MlflowErrorBody",
                    false => "#/components/schemas/ErrorBody",
                };
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(json, body, "{method} {path} {status}");
                } else {
                    assert_ne!(json, "#/components/schemas/ErrorBody");
                }
            }
        }
    }

    #[test]
    fn the_error_schema_is_what_errors_serialise() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let body = &schemas["ErrorBody"];
        assert_eq!(body["required"], serde_json::json!(["error"]));
        assert_eq!(
            body["properties"]["error"]["$ref"],
            "#/components/schemas/ErrorDetail"
        );
        let detail = &schemas["ErrorDetail"];
        let properties: BTreeSet<&str> = detail["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            properties,
            BTreeSet::from(["code", "message", "field", "details"])
        );
        assert_eq!(detail["required"], serde_json::json!(["code", "message"]));
        for p in ["code", "message", "field"] {
            assert_eq!(detail["properties"][p]["type"], "string", "{p}");
        }

        // And what an error really serialises to has exactly those members.
        let error = ApiError::invalid("reason", "a reason is required")
            .with_details(serde_json::json!({"unmet": []}));
        let response = axum::response::IntoResponse::into_response(error);
        let bytes = futures_body(response);
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        let members: BTreeSet<&str> = value["error"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(members, properties);
        assert_eq!(value.as_object().unwrap().len(), 1);
    }

    /// The body of a response, read on a small runtime.
    fn futures_body(response: Response) -> axum::body::Bytes {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 16))
            .unwrap()
    }

    #[test]
    fn the_enums_in_requests_are_the_domains() {
        for role in Role::ALL {
            assert_eq!(serde_json::json!(role), role.as_str());
        }
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["NewUser"]["properties"]["role"]["enum"],
            serde_json::json!(["admin", "qa", "developer", "viewer", "auditor"])
        );
        assert_eq!(
            schemas["NewUser"]["properties"]["kind"]["enum"],
            serde_json::json!(["person", "service"])
        );
        let meanings = &schemas["SignRequest"]["properties"]["meaning"]["enum"];
        for m in meanings.as_array().unwrap() {
            let parsed: Meaning = serde_json::from_value(m.clone()).unwrap();
            assert_eq!(serde_json::json!(parsed), *m);
        }
        assert_eq!(meanings.as_array().unwrap().len(), MEANINGS.len());
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = document();
        let mut seen = BTreeSet::new();
        for (method, path) in documented(&doc) {
            let id = doc["paths"][&path][method.to_lowercase()]["operationId"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(seen.insert(id.clone()), "{method} {path}: `{id}` twice");
        }
    }

    #[test]
    fn an_optional_body_may_be_left_out_but_is_never_null() {
        let doc = document();
        let body = &doc["paths"]["/api/v1/users/{id}/lock"]["post"]["requestBody"];
        assert!(body["required"].is_null() || body["required"] == false);
        assert_eq!(
            body["content"]["application/json"]["schema"],
            serde_json::json!({"$ref": "#/components/schemas/Reason"})
        );
    }

    #[test]
    fn the_document_names_the_crate_version() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert_eq!(doc["info"]["title"], "modeltrail");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
