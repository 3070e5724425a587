//! The client side of the server's REST API, shared by the commands that talk to a server: which
//! server (`--server`), where the CLI keeps its state for each server (the configuration
//! directory: the session and the pinned checkpoint), the bearer token of a request, passwords
//! read without echo, and the server's error shape turned into a message.
//!
//! Secrets: the session token lives only in `session.json` (mode 0600) and in the
//! `Authorization` header; passwords only in request bodies. Neither is ever printed or put into
//! an error message.

use anyhow::{bail, Context};
use clap::Args;
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a server is unless told otherwise: `modeltrail serve`'s default address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
/// A service account's API token, used instead of a login.
pub const TOKEN_ENV: &str = "MODELTRAIL_TOKEN";
/// A password for automation, used instead of asking on the terminal.
pub const PASSWORD_ENV: &str = "MODELTRAIL_PASSWORD";
/// The session file in a server's configuration directory.
pub const SESSION_FILE: &str = "session.json";
/// How long a file upload may take, from connecting to the answer.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Which server; shared by every client command.
#[derive(Args, Clone, Debug)]
pub struct ServerArgs {
    /// The modeltrail server's base URL.
    #[arg(
        long = "server",
        visible_alias = "url",
        env = "MODELTRAIL_SERVER",
        default_value = DEFAULT_SERVER,
        global = true
    )]
    pub server: String,
    /// A PEM file of CA certificates to trust for an https server besides the public roots
    /// (an in-house CA, or the certificate of a server whose certificate is self-signed).
    #[arg(long = "ca-cert", env = "MODELTRAIL_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
}

/// The CLI's configuration directory: `$MODELTRAIL_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/modeltrail`, else `$HOME/.config/modeltrail`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("MODELTRAIL_CONFIG_DIR") {
        return Ok(dir);
    }
    // The XDG base directory specification says to ignore a relative path.
    if let Some(dir) = var("XDG_CONFIG_HOME").filter(|d| d.is_absolute()) {
        return Ok(dir.join("modeltrail"));
    }
    if let Some(home) = var("HOME") {
        return Ok(home.join(".config").join("modeltrail"));
    }
    bail!("no configuration directory: set MODELTRAIL_CONFIG_DIR (or HOME)")
}

/// A server: its base URL, and the name of its directory in the configuration directory.
#[derive(Clone, Debug)]
pub struct Server {
    base: Url,
}

impl Server {
    pub fn parse(text: &str) -> anyhow::Result<Server> {
        let base = Url::parse(text.trim())
            .with_context(|| format!("--server {text:?} is not a URL (like {DEFAULT_SERVER})"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            bail!("--server {text:?}: an http:// or https:// URL with a host is needed");
        }
        if !base.username().is_empty() || base.password().is_some() {
            bail!("--server: give no user or password in the URL; use `modeltrail login`");
        }
        Ok(Server { base })
    }

    /// The base URL as given, without a trailing slash.
    pub fn url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// A file-name-safe key for this server: host and port, and the path when the API is not at
    /// the root (`127.0.0.1_8080`, `audit.example.com_443_modeltrail`).
    pub fn key(&self) -> String {
        let mut key = format!(
            "{}_{}",
            self.base
                .host_str()
                .unwrap_or("server")
                .trim_start_matches('[')
                .trim_end_matches(']'),
            self.base.port_or_known_default().unwrap_or(0)
        );
        let path = self.base.path().trim_matches('/');
        if !path.is_empty() {
            key.push('_');
            key.push_str(path);
        }
        key.chars()
            .map(
                |c| match c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                    true => c,
                    false => '_',
                },
            )
            .collect()
    }

    /// This server's directory in the configuration directory (not created here).
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        Ok(config_dir()?.join("servers").join(self.key()))
    }

    /// The URL of an API endpoint: `/api/v1/` and the path segments, each percent-encoded.
    pub fn endpoint(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }
}

/// A login kept for later commands: `session.json` in the server's directory, mode 0600.
#[derive(Serialize, Deserialize)]
pub struct Session {
    pub server: String,
    pub user: String,
    pub token: String,
    pub logged_in_at: String,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Session {
    pub fn path(server: &Server) -> anyhow::Result<PathBuf> {
        Ok(server.dir()?.join(SESSION_FILE))
    }

    pub fn load(server: &Server) -> anyhow::Result<Option<Session>> {
        let path = Session::path(server)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let session = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is damaged: log in again (`modeltrail login`)",
                path.display()
            )
        })?;
        Ok(Some(session))
    }

    pub fn save(&self, server: &Server) -> anyhow::Result<PathBuf> {
        let path = Session::path(server)?;
        let text = serde_json::to_string_pretty(self)?;
        write_file(&path, text.as_bytes(), 0o600)?;
        Ok(path)
    }

    /// Removes the session file; whether there was one.
    pub fn remove(server: &Server) -> anyhow::Result<bool> {
        let path = Session::path(server)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }
}

/// Writes a file in the configuration directory whole or not at all (a temporary file renamed
/// into place), with `mode` on Unix; creates its directory private to the user.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = path.parent().context("a file path without a directory")?;
    create_private_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let written = options
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// An error answer of the server: `{"error": {"code", "message", "field"}}`.
#[derive(Debug)]
pub struct ApiFailure {
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(field) = self.field.as_deref().filter(|f| !f.is_empty()) {
            write!(f, " (field {field})")?;
        }
        match self.code.as_str() {
            "invalid_token" | "unauthenticated" => {
                f.write_str("; log in with `modeltrail login` (or set MODELTRAIL_TOKEN)")
            }
            "password_change_required" => f.write_str("; change it with `modeltrail password`"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ApiFailure {}

impl ApiFailure {
    /// The server's error shape (`{"error": {"code", "message", "field"}}`), or the status and
    /// the start of the body when it is not that shape.
    pub(crate) fn from_answer(status: StatusCode, body: &str) -> ApiFailure {
        let error = serde_json::from_str::<Value>(body)
            .ok()
            .map(|v| v["error"].clone())
            .filter(Value::is_object);
        match error {
            Some(e) => ApiFailure {
                code: e["code"].as_str().unwrap_or("error").to_owned(),
                message: e["message"]
                    .as_str()
                    .map_or_else(|| format!("HTTP {status}"), str::to_owned),
                field: e["field"].as_str().map(str::to_owned),
            },
            None => {
                let text: String = body.trim().chars().take(200).collect();
                ApiFailure {
                    code: "http".to_owned(),
                    message: match text.is_empty() {
                        true => format!("the server answered HTTP {status}"),
                        false => format!("the server answered HTTP {status}: {text}"),
                    },
                    field: None,
                }
            }
        }
    }
}

/// Who a request is made as.
enum Credential {
    None,
    ApiToken(String),
    Session(Session),
}

/// A connection to one server, anonymous or with a token.
pub struct Client {
    server: Server,
    http: reqwest::Client,
    credential: Credential,
}

impl Client {
    /// A client without credentials, for the open endpoints (login, checkpoint, public key).
    pub fn anonymous(args: &ServerArgs) -> anyhow::Result<Client> {
        let server = Server::parse(&args.server)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("modeltrail-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120));
        if let Some(path) = &args.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the CA certificates {}", path.display()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} holds no PEM certificates", path.display()))?;
            if certificates.is_empty() {
                bail!("{} holds no PEM certificates", path.display());
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().context("setting up the HTTP client")?;
        Ok(Client {
            server,
            http,
            credential: Credential::None,
        })
    }

    /// A client with `MODELTRAIL_TOKEN` or, without it, the saved session; an error when
    /// neither is there.
    pub fn signed_in(args: &ServerArgs) -> anyhow::Result<Client> {
        let mut client = Client::anonymous(args)?;
        client.credential = match std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
            Some(token) => Credential::ApiToken(token),
            None => match Session::load(&client.server)? {
                Some(session) => Credential::Session(session),
                None => bail!(
                    "not logged in to {0}: run `modeltrail login --server {0}` (a service \
                     account sets {TOKEN_ENV} instead)",
                    client.server.url()
                ),
            },
        };
        Ok(client)
    }

    /// A client with the saved session only (password changes, signatures, logout).
    pub fn with_session(args: &ServerArgs) -> anyhow::Result<Client> {
        let mut client = Client::anonymous(args)?;
        client.credential = match Session::load(&client.server)? {
            Some(session) => Credential::Session(session),
            None => bail!(
                "not logged in to {0}: run `modeltrail login --server {0}`",
                client.server.url()
            ),
        };
        Ok(client)
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Whether requests carry a token.
    pub fn has_credential(&self) -> bool {
        !matches!(self.credential, Credential::None)
    }

    /// The user of the saved session, when the client uses one.
    pub fn session_user(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session(s) => Some(&s.user),
            _ => None,
        }
    }

    /// The signed-in user's id: the session's, or the server's answer for an API token.
    pub async fn user_id(&self) -> anyhow::Result<String> {
        if let Some(user) = self.session_user() {
            return Ok(user.to_owned());
        }
        let me = self.get(&["auth", "me"], &[]).await?;
        match me["user"]["id"].as_str() {
            Some(id) => Ok(id.to_owned()),
            None => bail!("the server did not say who is logged in"),
        }
    }

    pub async fn get(&self, segments: &[&str], query: &[(&str, String)]) -> anyhow::Result<Value> {
        let text = self.send(Method::GET, segments, query, None).await?;
        parse_json(&text)
    }

    /// A plain-text endpoint (the checkpoint, the public key).
    pub async fn get_text(&self, segments: &[&str]) -> anyhow::Result<String> {
        self.send(Method::GET, segments, &[], None).await
    }

    /// A binary answer (a report) and its headers.
    pub async fn get_bytes(
        &self,
        segments: &[&str],
    ) -> anyhow::Result<(Vec<u8>, reqwest::header::HeaderMap)> {
        let url = self.server.endpoint(segments, &[]);
        let response = self
            .authorized(self.http.get(url))
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.server.url()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {}", self.server.url()))?;
        if !status.is_success() {
            return Err(ApiFailure::from_answer(status, &String::from_utf8_lossy(&bytes)).into());
        }
        Ok((bytes.to_vec(), headers))
    }

    pub async fn post(&self, segments: &[&str], body: Option<&Value>) -> anyhow::Result<Value> {
        let text = self.send(Method::POST, segments, &[], body).await?;
        parse_json(&text)
    }

    pub async fn put(&self, segments: &[&str], body: &Value) -> anyhow::Result<Value> {
        let text = self.send(Method::PUT, segments, &[], Some(body)).await?;
        parse_json(&text)
    }

    /// Posts a `multipart/form-data` form (a file upload): no limit on the whole request, which
    /// may take long to send, only on connecting.
    pub async fn post_form(
        &self,
        segments: &[&str],
        form: reqwest::multipart::Form,
    ) -> anyhow::Result<Value> {
        let url = self.server.endpoint(segments, &[]);
        let request = self
            .authorized(self.http.post(url))
            .timeout(UPLOAD_TIMEOUT)
            .multipart(form);
        let text = self.answer(request).await?;
        parse_json(&text)
    }

    /// Posts a `multipart/form-data` form of a `record` part (JSON; null fields left out) and
    /// the file at `path` streamed as the `file` part, as the servers' file routes take them.
    pub async fn post_record_and_file(
        &self,
        segments: &[&str],
        record: &Value,
        path: &Path,
    ) -> anyhow::Result<Value> {
        let mut record = record.clone();
        if let Some(fields) = record.as_object_mut() {
            fields.retain(|_, value| !value.is_null());
        }
        let form = reqwest::multipart::Form::new()
            .part(
                "record",
                reqwest::multipart::Part::text(record.to_string())
                    .mime_str("application/json")
                    .context("the record part's content type")?,
            )
            .part("file", file_part(path).await?);
        self.post_form(segments, form).await
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request.header("x-client-id", "modeltrail-cli");
        match &self.credential {
            Credential::None => request,
            Credential::ApiToken(token) => request.bearer_auth(token),
            Credential::Session(session) => request.bearer_auth(&session.token),
        }
    }

    /// Sends a request; the answer's text when it succeeded, else the server's error.
    async fn answer(&self, request: reqwest::RequestBuilder) -> anyhow::Result<String> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.server.url()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {}", self.server.url()))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(ApiFailure::from_answer(status, &text).into())
        }
    }

    /// A GET of `path` (from the server's root, e.g. `/healthz`) as `token`, or without a
    /// credential: the status, the `Date` header and the body, whatever the status. For checks
    /// that expect a refusal.
    pub async fn probe(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Option<String>, String)> {
        let mut base = self.server.base.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        let url = base
            .join(path.trim_start_matches('/'))
            .with_context(|| format!("{path} is not a path on {}", self.server.url()))?;
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.server.url()))?;
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .map(str::to_owned);
        let body = response
            .text()
            .await
            .with_context(|| format!("reading the answer to {path}"))?;
        Ok((status, date, body))
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<String> {
        let url = self.server.endpoint(segments, query);
        let mut request = self.authorized(self.http.request(method, url));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }
}

/// The file as a streamed part, with its file name.
pub async fn file_part(path: &Path) -> anyhow::Result<reqwest::multipart::Part> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name the server can record", path.display()))?
        .to_owned();
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let length = file
        .metadata()
        .await
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    };
    reqwest::multipart::Part::stream_with_length(reqwest::Body::from(file), length)
        .file_name(name)
        .mime_str(content_type)
        .context("the file part's content type")
}

fn parse_json(text: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text).context("the server's answer is not JSON")
}

/// Reads a password: one line of standard input with `from_stdin`, else `MODELTRAIL_PASSWORD`,
/// else from the terminal without echo.
pub fn read_password(prompt: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        return stdin_line("the password");
    }
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    ask_hidden(prompt)
}

/// Asks on the terminal without echo.
pub fn ask_hidden(prompt: &str) -> anyhow::Result<String> {
    rpassword::prompt_password(prompt).context(
        "no terminal to ask for the password on: give it with --password-stdin or \
         MODELTRAIL_PASSWORD",
    )
}

/// Reads one line of standard input, without its line ending; refuses an empty one.
pub fn stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading standard input")?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        bail!("expected {what} on standard input, found nothing");
    }
    Ok(line)
}

/// Asks for a line of text on the terminal (with echo), when standard input is one.
pub fn ask_line(prompt: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("standard input is not a terminal to ask on: {prompt}");
    }
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    stdin_line("an answer")
}

/// Reads JSON from a file, or from standard input for `-`.
pub fn read_json(source: &str) -> anyhow::Result<Value> {
    let text = match source {
        "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            text
        }
        path => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
    };
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON",
            if source == "-" {
                "standard input"
            } else {
                source
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_get_file_name_safe_keys() {
        let key = |s: &str| Server::parse(s).unwrap().key();
        assert_eq!(key("http://127.0.0.1:8080"), "127.0.0.1_8080");
        assert_eq!(key("http://127.0.0.1:8080/"), "127.0.0.1_8080");
        assert_eq!(key("https://audit.example.com"), "audit.example.com_443");
        assert_eq!(
            key("https://audit.example.com/trail/"),
            "audit.example.com_443_trail"
        );
        assert_eq!(key("http://[::1]:9000"), "__1_9000");
        assert!(Server::parse("ftp://x").is_err());
        assert!(Server::parse("http://u:p@x").is_err());
        assert!(Server::parse("127.0.0.1:8080").is_err());
    }

    #[test]
    fn endpoints_are_under_the_api_prefix_and_encoded() {
        let server = Server::parse("https://h.example/trail").unwrap();
        let url = server.endpoint(&["records", "model", "a b/c"], &[("from", "3".to_owned())]);
        assert_eq!(
            url.as_str(),
            "https://h.example/trail/api/v1/records/model/a%20b%2Fc?from=3"
        );
        let root = Server::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            root.endpoint(&["checkpoint"], &[]).as_str(),
            "http://127.0.0.1:8080/api/v1/checkpoint"
        );
    }

    #[test]
    fn server_errors_become_their_message_and_field() {
        let e = ApiFailure::from_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"error":{"code":"invalid","message":"a reason is required","field":"reason"}}"#,
        );
        assert_eq!(e.to_string(), "a reason is required (field reason)");
        let e = ApiFailure::from_answer(StatusCode::BAD_GATEWAY, "upstream down");
        assert_eq!(
            e.to_string(),
            "the server answered HTTP 502 Bad Gateway: upstream down"
        );
    }

    #[test]
    fn a_session_never_shows_its_token() {
        let s = Session {
            server: "http://x".into(),
            user: "u".into(),
            token: "mts_secret".into(),
            logged_in_at: String::new(),
        };
        assert!(!format!("{s:?}").contains("mts_secret"));
    }
}
