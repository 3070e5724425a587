//! `modeltrail dataset register`: a dataset version from files on disk. Owns finding the files
//! (directories walked, symlinks inside them not followed), streaming each through SHA-256, the
//! manifest and its canonical form (whose SHA-256 is the dataset's `content_digest`), the
//! `dataset_version` record, and, with `--upload`, sending each CSV or Parquet file's bytes to the
//! server to be profiled.
//!
//! The canonical form of a manifest is the text `sha256sum` prints for its files: one line per
//! file, `<sha256 lower-case hex>  <path>\n` (two spaces), in the byte order of the paths. Paths
//! are relative to the common root of the arguments, with `/` between components; names holding a
//! newline or a backslash (which `sha256sum` would escape) are refused.

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use crate::client::{ApiFailure, Client, ServerArgs, Session, TOKEN_ENV};
use crate::record_commands::record_view;

/// The record type this command creates.
const RECORD_TYPE: &str = "dataset_version";
/// Bytes read from a file at a time while hashing.
const READ_BUFFER_LEN: usize = 1 << 20;
/// Buffers in flight between the reader thread and the hasher.
const READ_BUFFERS: usize = 4;

#[derive(Args)]
pub struct DatasetArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: DatasetCommand,
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// Register a dataset version: hash its files into a manifest and record it.
    ///
    /// Every file under PATH... is read through SHA-256 (directories are walked recursively,
    /// symlinks inside them are not followed; files are taken in path order). The manifest lists
    /// each file's path, relative to the arguments' common root with `/` separators, its
    /// SHA-256 and its size. The dataset's content_digest is the SHA-256 of the manifest's
    /// canonical form, the lines `sha256sum` prints for the files, sorted by path (byte order):
    /// `<sha256 hex>  <path>\n` (two spaces). For a directory DIR it can be checked with
    ///
    ///   cd DIR && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum
    ///
    /// The format is csv or parquet when every file has that extension (.csv; .parquet or
    /// .pq), the common extension when they share another, else mixed.
    ///
    /// With --upload, each CSV and Parquet file is then sent to the server
    /// (POST /api/v1/dataset-versions/{id}/data?path=<manifest path>), which checks it against
    /// the manifest and profiles it; --json then prints {"created": ..., "uploads": [...]}.
    Register(RegisterArgs),
}

#[derive(Args)]
struct RegisterArgs {
    /// The dataset's files and directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The dataset's name.
    #[arg(long)]
    name: String,
    /// The version label, unique within the dataset (e.g. 2024-06).
    #[arg(long)]
    version: String,
    /// Where the data comes from: system, study, site, supplier.
    #[arg(long)]
    source: String,
    /// The record id; without it the server makes one.
    #[arg(long)]
    id: Option<String>,
    /// After recording, upload each CSV and Parquet file for the server to profile.
    #[arg(long)]
    upload: bool,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
}

/// One file of the dataset: where it is on disk, its path in the manifest, its size when found.
#[derive(Debug)]
struct DatasetFile {
    disk_path: PathBuf,
    manifest_path: String,
    size_bytes: u64,
}

/// One line of the manifest.
#[derive(Debug, Serialize)]
struct ManifestEntry {
    path: String,
    sha256: String,
    size_bytes: u64,
}

pub async fn run(args: DatasetArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DatasetCommand::Register(register) => register_dataset(&args.server, register).await,
    }
}

async fn register_dataset(server: &ServerArgs, args: RegisterArgs) -> anyhow::Result<ExitCode> {
    let client = Client::signed_in(server)?;
    let paths = args.paths.clone();
    let (files, manifest) = tokio::task::spawn_blocking(move || {
        let files = find_files(&paths)?;
        let manifest = hash_files(&files)?;
        Ok::<_, anyhow::Error>((files, manifest))
    })
    .await
    .context("hashing stopped unexpectedly")??;

    let mut data = json!({
        "name": args.name,
        "version": args.version,
        "source": args.source,
        "content_digest": content_digest(&manifest),
        "manifest": manifest,
    });
    if let Some(format) = dataset_format(&files) {
        data["format"] = json!(format);
    }
    let mut body = json!({ "data": data });
    if let Some(id) = &args.id {
        body["id"] = json!(id);
    }
    let created = client
        .post(&["records", RECORD_TYPE], Some(&body))
        .await
        .map_err(|e| match is_too_large(&e) {
            true => e.context(format!(
                "the manifest of {} files makes a record larger than the server accepts (its \
                 --body-limit)",
                files.len()
            )),
            false => e,
        })?;
    let id = created["id"]
        .as_str()
        .context("the server's answer does not name the record it created")?
        .to_owned();
    if !args.json {
        print!("{}", record_view(&created));
    }
    if !args.upload {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&created)?);
        }
        return Ok(ExitCode::SUCCESS);
    }

    let uploader = Uploader::new(server, &client)?;
    let mut uploads = Vec::new();
    for file in files.iter().filter(|f| upload_content_type(f).is_some()) {
        let answer = uploader.upload(&id, file).await?;
        if !args.json {
            println!(
                "uploaded {} ({} bytes): {RECORD_TYPE} {id} is now version {}",
                file.manifest_path, file.size_bytes, answer["version"]
            );
            println!("  {}", profile_line(&answer));
        }
        uploads.push(json!({ "path": file.manifest_path, "answer": answer }));
    }
    if uploads.is_empty() {
        eprintln!("note: no CSV or Parquet file to upload");
    }
    if args.json {
        let out = json!({ "created": created, "uploads": uploads });
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every regular file of the arguments, with its manifest path, sorted by that path. A missing
/// argument, a file name the manifest cannot hold, or no file at all is an error.
fn find_files(arguments: &[PathBuf]) -> anyhow::Result<Vec<DatasetFile>> {
    let mut found = Vec::new();
    let mut anchors = Vec::new();
    let mut passed_over = 0usize;
    for argument in arguments {
        let metadata = std::fs::metadata(argument).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow::anyhow!("{}: no such file or directory", argument.display())
            }
            _ => anyhow::Error::new(e).context(format!("cannot read {}", argument.display())),
        })?;
        let located = locate(argument)?;
        if metadata.is_dir() {
            walk(&located, &mut found, &mut passed_over)?;
            anchors.push(located);
        } else if metadata.is_file() {
            anchors.push(located.parent().map(Path::to_path_buf).unwrap_or_default());
            found.push((located, metadata.len()));
        } else {
            bail!("{} is neither a file nor a directory", argument.display());
        }
    }
    if passed_over > 0 {
        eprintln!(
            "note: passed over {passed_over} symlink(s) and special file(s) inside the \
             directories (symlinks are not followed)"
        );
    }
    let root = common_root(&anchors);
    let mut files = Vec::with_capacity(found.len());
    for (disk_path, size_bytes) in found {
        let manifest_path = manifest_path(&root, &disk_path)?;
        files.push(DatasetFile {
            disk_path,
            manifest_path,
            size_bytes,
        });
    }
    files.sort_by(|a, b| a.manifest_path.cmp(&b.manifest_path));
    files.dedup_by(|a, b| a.manifest_path == b.manifest_path);
    if files.is_empty() {
        bail!("no files to register under the paths given");
    }
    Ok(files)
}

/// An argument as an absolute path: its directory resolved (symlinks, `..`), its own name kept,
/// so a symlink given as an argument keeps its name in the manifest.
fn locate(argument: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(argument)
        .with_context(|| format!("cannot resolve {}", argument.display()))?;
    let resolved = match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent).map(|p| p.join(name)),
        _ => std::fs::canonicalize(&absolute),
    };
    resolved.with_context(|| format!("cannot resolve {}", argument.display()))
}

/// Adds the regular files under `dir` (recursively) with their sizes; symlinks and special files
/// are counted in `passed_over`, not followed or read.
fn walk(
    dir: &Path,
    found: &mut Vec<(PathBuf, u64)>,
    passed_over: &mut usize,
) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if kind.is_dir() {
            walk(&path, found, passed_over)?;
        } else if kind.is_file() {
            let size = entry
                .metadata()
                .with_context(|| format!("cannot read {}", path.display()))?
                .len();
            found.push((path, size));
        } else {
            *passed_over += 1;
        }
    }
    Ok(())
}

/// The deepest directory holding every anchor.
fn common_root(anchors: &[PathBuf]) -> PathBuf {
    let mut anchors = anchors.iter();
    let Some(first) = anchors.next() else {
        return PathBuf::new();
    };
    let mut root: Vec<Component<'_>> = first.components().collect();
    for anchor in anchors {
        let shared = root
            .iter()
            .zip(anchor.components())
            .take_while(|(a, b)| **a == *b)
            .count();
        root.truncate(shared);
    }
    root.iter().collect()
}

/// A file's path in the manifest: relative to `root`, UTF-8, `/` between components.
fn manifest_path(root: &Path, file: &Path) -> anyhow::Result<String> {
    let relative = file
        .strip_prefix(root)
        .with_context(|| format!("{} is not under {}", file.display(), root.display()))?;
    let mut parts = Vec::new();
    for component in relative.components() {
        let Component::Normal(part) = component else {
            bail!("{}: an unexpected path component", file.display());
        };
        let Some(part) = part.to_str() else {
            bail!(
                "{}: the name is not UTF-8, so the manifest cannot hold it",
                file.display()
            );
        };
        if part.contains(['\n', '\r', '\\']) {
            bail!(
                "{}: a name with a newline or backslash has no unambiguous line in the \
                 manifest's canonical form; rename it",
                file.display()
            );
        }
        parts.push(part);
    }
    if parts.is_empty() {
        bail!("{}: no path relative to {}", file.display(), root.display());
    }
    Ok(parts.join("/"))
}

/// Streams every file through SHA-256 in order, with a progress bar (bytes and bytes/s) when
/// standard error is a terminal. A reader thread fills buffers while this one hashes, so reading
/// and hashing overlap; only `READ_BUFFERS` buffers of `READ_BUFFER_LEN` bytes are in memory.
fn hash_files(files: &[DatasetFile]) -> anyhow::Result<Vec<ManifestEntry>> {
    let total: u64 = files.iter().map(|f| f.size_bytes).sum();
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (read_sender, reads) = mpsc::sync_channel::<FileRead>(READ_BUFFERS);
    let (empty_sender, empty_buffers) = mpsc::sync_channel::<Vec<u8>>(READ_BUFFERS);
    for _ in 0..READ_BUFFERS {
        // The channel holds READ_BUFFERS and nothing has been taken yet: this cannot block.
        let _ = empty_sender.send(vec![0u8; READ_BUFFER_LEN]);
    }
    let manifest = std::thread::scope(|scope| {
        // Both ends the hasher holds go when this closure ends, however it ends, so the reader
        // never waits on them afterwards.
        let (reads, empty_sender) = (reads, empty_sender);
        scope.spawn(move || read_files(files, &empty_buffers, &read_sender));
        let mut manifest = Vec::with_capacity(files.len());
        for file in files {
            progress.set_message(file.manifest_path.clone());
            let mut hasher = Sha256::new();
            let mut length = 0u64;
            loop {
                match reads.recv() {
                    Ok(FileRead::Bytes(buffer, filled)) => {
                        hasher.update(&buffer[..filled]);
                        length += filled as u64;
                        progress.inc(filled as u64);
                        // The reader may have stopped already; the buffer is then not needed.
                        let _ = empty_sender.send(buffer);
                    }
                    Ok(FileRead::End) => break,
                    Ok(FileRead::Failed(error)) => return Err(error),
                    Err(_) => bail!("the file reader stopped before {}", file.manifest_path),
                }
            }
            manifest.push(ManifestEntry {
                path: file.manifest_path.clone(),
                sha256: hex::encode(hasher.finalize()),
                size_bytes: length,
            });
        }
        Ok(manifest)
    })?;
    progress.finish_and_clear();
    Ok(manifest)
}

/// What the reader thread hands the hasher: a buffer and how much of it is filled, the end of the
/// current file, or why it could not be read (after which it sends nothing more).
enum FileRead {
    Bytes(Vec<u8>, usize),
    End,
    Failed(anyhow::Error),
}

/// Reads the files in order into the buffers it is given, sending each filled one, and `End`
/// after each file. Stops when the hasher has gone.
fn read_files(
    files: &[DatasetFile],
    empty_buffers: &mpsc::Receiver<Vec<u8>>,
    reads: &mpsc::SyncSender<FileRead>,
) {
    // A buffer taken but not filled (the read at a file's end) is kept for the next file.
    let mut spare = None;
    for file in files {
        let message = match read_file(&file.disk_path, &mut spare, empty_buffers, reads) {
            Ok(true) => FileRead::End,
            Ok(false) => return,
            Err(error) => FileRead::Failed(error),
        };
        let failed = matches!(message, FileRead::Failed(_));
        if reads.send(message).is_err() || failed {
            return;
        }
    }
}

/// Sends one file's bytes; `Ok(false)` when the hasher has gone.
fn read_file(
    path: &Path,
    spare: &mut Option<Vec<u8>>,
    empty_buffers: &mpsc::Receiver<Vec<u8>>,
    reads: &mpsc::SyncSender<FileRead>,
) -> anyhow::Result<bool> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    loop {
        let mut buffer = match spare.take() {
            Some(buffer) => buffer,
            None => match empty_buffers.recv() {
                Ok(buffer) => buffer,
                Err(_) => return Ok(false),
            },
        };
        let filled = match fill(&mut file, &mut buffer) {
            Ok(filled) => filled,
            Err(e) => {
                *spare = Some(buffer);
                return Err(e).with_context(|| format!("reading {}", path.display()));
            }
        };
        if filled == 0 {
            *spare = Some(buffer);
            return Ok(true);
        }
        // A buffer not filled whole means the file ended inside it.
        let ended = filled < buffer.len();
        if reads.send(FileRead::Bytes(buffer, filled)).is_err() {
            return Ok(false);
        }
        if ended {
            return Ok(true);
        }
    }
}

/// Reads until `buffer` is full or the file ends; how many bytes were read.
fn fill(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// SHA-256 (lower-case hex) of the manifest's canonical form: `<sha256>  <path>\n` per file, in
/// path order, as `sha256sum` prints them. `manifest` is sorted by path.
fn content_digest(manifest: &[ManifestEntry]) -> String {
    let mut hasher = Sha256::new();
    for entry in manifest {
        hasher.update(entry.sha256.as_bytes());
        hasher.update(b"  ");
        hasher.update(entry.path.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// A file's format by its extension: `csv`, `parquet` (.parquet, .pq), or the extension itself.
fn file_format(file: &DatasetFile) -> Option<String> {
    let extension = Path::new(&file.manifest_path)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    Some(match extension.as_str() {
        "parquet" | "pq" => "parquet".to_owned(),
        _ => extension,
    })
}

/// The dataset's format: the one format all its files share, `mixed` when they differ, none when
/// no file has an extension.
fn dataset_format(files: &[DatasetFile]) -> Option<String> {
    let formats: Vec<Option<String>> = files.iter().map(file_format).collect();
    if formats.iter().all(Option::is_none) {
        return None;
    }
    match formats.windows(2).all(|pair| pair[0] == pair[1]) {
        true => formats.into_iter().next().flatten(),
        false => Some("mixed".to_owned()),
    }
}

/// The media type a file is uploaded with; `None` for a file the server does not profile.
fn upload_content_type(file: &DatasetFile) -> Option<&'static str> {
    match file_format(file)?.as_str() {
        "csv" => Some("text/csv"),
        "parquet" => Some("application/vnd.apache.parquet"),
        _ => None,
    }
}

/// Sends data files to the server with the same server, CA certificates and credential as
/// `Client`, streaming each file's bytes from disk as the request body.
struct Uploader<'a> {
    client: &'a Client,
    http: reqwest::Client,
    token: String,
}

impl<'a> Uploader<'a> {
    fn new(args: &ServerArgs, client: &'a Client) -> anyhow::Result<Uploader<'a>> {
        let token = match std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
            Some(token) => token,
            None => match Session::load(client.server())? {
                Some(session) => session.token,
                None => bail!(
                    "not logged in to {0}: run `modeltrail login --server {0}`",
                    client.server().url()
                ),
            },
        };
        // A data file may take long to send: no limit on the whole request, only on connecting.
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("modeltrail-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10));
        if let Some(path) = &args.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading the CA certificates {}", path.display()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} holds no PEM certificates", path.display()))?;
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().context("setting up the HTTP client")?;
        Ok(Uploader {
            client,
            http,
            token,
        })
    }

    /// Uploads one manifest file of dataset version `id`; the server's answer (the record's new
    /// version).
    async fn upload(&self, id: &str, file: &DatasetFile) -> anyhow::Result<Value> {
        let content_type = upload_content_type(file).unwrap_or("application/octet-stream");
        let opened = tokio::fs::File::open(&file.disk_path)
            .await
            .with_context(|| format!("cannot open {}", file.disk_path.display()))?;
        let length = opened
            .metadata()
            .await
            .with_context(|| format!("cannot read {}", file.disk_path.display()))?
            .len();
        let url = self.client.server().endpoint(
            &["dataset-versions", id, "data"],
            &[("path", file.manifest_path.clone())],
        );
        eprintln!("uploading {} ({length} bytes)", file.manifest_path);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .header("x-client-id", "modeltrail-cli")
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::from(opened))
            .send()
            .await
            .with_context(|| {
                format!(
                    "uploading {} to the server at {}",
                    file.manifest_path,
                    self.client.server().url()
                )
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {}", self.client.server().url()))?;
        if status.is_success() {
            return serde_json::from_str(&text).context("the server's answer is not JSON");
        }
        let failure = ApiFailure::from_answer(status, &text);
        Err(anyhow::Error::new(failure).context(format!(
            "uploading {} for {RECORD_TYPE} {id} (the record is created; files before it in \
             path order are uploaded)",
            file.manifest_path
        )))
    }
}

/// What the profile in an upload's answer covers: `profile: 5 rows from 2 files`.
fn profile_line(answer: &Value) -> String {
    let profile = &answer["data"]["profile"];
    let files = profile["source"].as_array().map_or(1, Vec::len);
    let rows = profile["rows"]
        .as_u64()
        .map_or_else(|| "?".to_owned(), |rows| rows.to_string());
    format!(
        "profile: {rows} rows from {files} file{}",
        if files == 1 { "" } else { "s" }
    )
}

/// Whether the server refused a request body as too large.
pub fn is_too_large(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<ApiFailure>()
        .is_some_and(|failure| failure.code == "too_large")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> DatasetFile {
        DatasetFile {
            disk_path: PathBuf::from(path),
            manifest_path: path.to_owned(),
            size_bytes: 0,
        }
    }

    #[test]
    fn the_content_digest_is_sha256sum_output_hashed() {
        let entry = |path: &str, content: &[u8]| ManifestEntry {
            path: path.to_owned(),
            sha256: hex::encode(Sha256::digest(content)),
            size_bytes: content.len() as u64,
        };
        let manifest = [entry("a.csv", b"x\n"), entry("sub/b.csv", b"")];
        let text = format!(
            "{}  a.csv\n{}  sub/b.csv\n",
            manifest[0].sha256, manifest[1].sha256
        );
        assert_eq!(
            content_digest(&manifest),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }

    #[test]
    fn the_common_root_is_the_deepest_shared_directory() {
        let paths = |p: &[&str]| p.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            common_root(&paths(&["/d/data/train", "/d/data/test"])),
            PathBuf::from("/d/data")
        );
        assert_eq!(common_root(&paths(&["/d/data"])), PathBuf::from("/d/data"));
        assert_eq!(common_root(&paths(&["/a/x", "/b/y"])), PathBuf::from("/"));
        assert_eq!(
            manifest_path(Path::new("/d/data"), Path::new("/d/data/train/p.csv")).unwrap(),
            "train/p.csv"
        );
        assert!(manifest_path(Path::new("/d"), Path::new("/d/a\nb")).is_err());
    }

    #[test]
    fn formats_come_from_extensions() {
        let format =
            |names: &[&str]| dataset_format(&names.iter().map(|n| file(n)).collect::<Vec<_>>());
        assert_eq!(format(&["a.csv", "b.CSV"]).as_deref(), Some("csv"));
        assert_eq!(format(&["a.parquet", "b.pq"]).as_deref(), Some("parquet"));
        assert_eq!(format(&["a.csv", "b.parquet"]).as_deref(), Some("mixed"));
        assert_eq!(format(&["a.csv", "README"]).as_deref(), Some("mixed"));
        assert_eq!(format(&["a.jsonl"]).as_deref(), Some("jsonl"));
        assert_eq!(format(&["README"]), None);
        assert_eq!(upload_content_type(&file("x/a.csv")), Some("text/csv"));
        assert_eq!(
            upload_content_type(&file("a.parquet")),
            Some("application/vnd.apache.parquet")
        );
        assert_eq!(upload_content_type(&file("a.json")), None);
    }
}
