//! `modeltrail code record`: the version of the code a pipeline runs, read in-process from the
//! local git checkout (with the gix library, never by running `git`) and recorded on the server as
//! a `code_version` record: repository, commit, branch, tag, author, commit time, message and
//! summary, the paths the commit changed, and whether the work tree had uncommitted changes.
//!
//! The repository's `origin` URL is recorded without any user name or password it carries
//! (CI checkouts often embed an access token there).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use gix::bstr::ByteSlice;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::client::{Client, ServerArgs};
use crate::dataset_command::is_too_large;
use crate::record_commands::record_view;

/// The record type this command creates.
const RECORD_TYPE: &str = "code_version";
/// Hex digits of the commit id in the default record id (`git-<12 hex>`).
const SHORT_COMMIT_LEN: usize = 12;

#[derive(Args)]
pub struct CodeArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: CodeCommand,
}

#[derive(Subcommand)]
enum CodeCommand {
    /// Record the commit checked out at PATH as a code_version record.
    ///
    /// Read from the checkout (no `git` program is run): the repository (the `origin` remote's
    /// URL without credentials, else the checkout's path), the full commit id, the branch (absent
    /// when HEAD is detached), a tag pointing at the commit (the first by name when several do),
    /// the author as "Name <email>", the commit time in UTC, the full message and its first line
    /// as the change summary, the paths the commit changed against its first parent (every path
    /// for a first commit), and `dirty`: whether tracked files differ from the commit, in the
    /// index or the work tree (untracked files do not count, as with `git describe --dirty`).
    Record(RecordCodeArgs),
}

#[derive(Args)]
struct RecordCodeArgs {
    /// The git checkout, or a directory inside one.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The record id; default `git-` and the first 12 hex digits of the commit id.
    #[arg(long)]
    id: Option<String>,
    /// What changed and why, instead of the commit message's first line.
    #[arg(long)]
    change_summary: Option<String>,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
}

/// The content of a `code_version` record, as read from a checkout.
#[derive(Debug, Serialize)]
struct CodeVersion {
    repository: String,
    commit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    author: String,
    committed_at: String,
    change_summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    changed_paths: Vec<String>,
    dirty: bool,
}

pub async fn run(args: CodeArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CodeCommand::Record(record) => record_code(&args.server, record).await,
    }
}

async fn record_code(server: &ServerArgs, args: RecordCodeArgs) -> anyhow::Result<ExitCode> {
    let path = args.path.clone();
    let change_summary = args.change_summary.clone();
    let version = tokio::task::spawn_blocking(move || read_checkout(&path, change_summary))
        .await
        .context("reading the checkout stopped unexpectedly")??;
    let id = args.id.unwrap_or_else(|| {
        let short: String = version.commit.chars().take(SHORT_COMMIT_LEN).collect();
        format!("git-{short}")
    });
    let client = Client::signed_in(server)?;
    let changed_path_count = version.changed_paths.len();
    let body = json!({ "id": id, "data": version });
    let answer = client
        .post(&["records", RECORD_TYPE], Some(&body))
        .await
        .map_err(|e| match is_too_large(&e) {
            true => e.context(format!(
                "the commit changes {} paths: the record is larger than the server accepts \
                 (its --body-limit)",
                changed_path_count
            )),
            false => e,
        })?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&answer)?),
        false => print!("{}", record_view(&answer)),
    }
    if version.dirty {
        eprintln!(
            "warning: the work tree has uncommitted changes: the code that runs is not exactly \
             commit {} (recorded with \"dirty\": true)",
            version.commit
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the code version checked out at `path` (or in a repository above it).
fn read_checkout(path: &Path, change_summary: Option<String>) -> anyhow::Result<CodeVersion> {
    let shown = path.display();
    match path.try_exists() {
        Ok(true) => {}
        Ok(false) => bail!("{shown} does not exist"),
        Err(e) => return Err(e).with_context(|| format!("cannot look at {shown}")),
    }
    let repo = gix::discover(path)
        .with_context(|| format!("{shown} is not a git repository (nor inside one)"))?;
    let mut head = repo
        .head()
        .with_context(|| format!("reading HEAD of the repository at {shown}"))?;
    if head.is_unborn() {
        bail!("the git repository at {shown} has no commits yet: commit before recording it");
    }
    let branch = head
        .referent_name()
        .and_then(|name| {
            name.as_bstr()
                .to_str_lossy()
                .strip_prefix("refs/heads/")
                .map(str::to_owned)
        })
        .filter(|b| !b.is_empty());
    let commit = head
        .peel_to_commit()
        .with_context(|| format!("HEAD of the repository at {shown} is not a commit"))?;
    let commit_id = commit.id;

    let author = commit.author().context("reading the commit's author")?;
    let author = match author.name.trim().is_empty() {
        true => format!("<{}>", author.email.to_str_lossy()),
        false => format!(
            "{} <{}>",
            author.name.trim().to_str_lossy(),
            author.email.to_str_lossy()
        ),
    };
    let committed_at = rfc3339_utc(
        commit
            .time()
            .context("reading the commit's committer time")?
            .seconds,
    )?;
    let message = commit
        .message_raw()
        .context("reading the commit message")?
        .to_str_lossy()
        .trim_end()
        .to_owned();
    let first_line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned);
    let change_summary = match change_summary.or(first_line) {
        Some(summary) if !summary.trim().is_empty() => summary.trim().to_owned(),
        _ => {
            bail!("commit {commit_id} has an empty message: say what changed with --change-summary")
        }
    };

    let changed_paths = changed_paths(&repo, &commit)?;
    let tag = tag_of(&repo, commit_id)?;
    let repository = match repo.config_snapshot().string("remote.origin.url") {
        Some(url) if !url.trim().is_empty() => without_credentials(url.to_str_lossy().trim()),
        _ => checkout_path(&repo)?,
    };
    let dirty = match repo.workdir() {
        Some(_) => repo
            .is_dirty()
            .context("checking the work tree for uncommitted changes")?,
        None => false,
    };
    Ok(CodeVersion {
        repository,
        commit: commit_id.to_string(),
        branch,
        tag,
        author,
        committed_at,
        change_summary,
        message: Some(message).filter(|m| !m.is_empty()),
        changed_paths,
        dirty,
    })
}

/// The paths of the files (not directories) the commit adds, changes or removes against its
/// first parent, or every path of a first commit; sorted. A rename is its two paths.
fn changed_paths(repo: &gix::Repository, commit: &gix::Commit<'_>) -> anyhow::Result<Vec<String>> {
    let tree = commit.tree().context("reading the commit's tree")?;
    let parent_tree = match commit.parent_ids().next() {
        Some(parent) => parent
            .object()
            .context("reading the parent commit")?
            .peel_to_commit()
            .context("reading the parent commit")?
            .tree()
            .context("reading the parent commit's tree")?,
        None => repo.empty_tree(),
    };
    let mut paths = BTreeSet::new();
    parent_tree
        .changes()
        .context("reading the repository's diff settings")?
        .options(|options| {
            options.track_rewrites(None);
        })
        .for_each_to_obtain_tree(&tree, |change| {
            if !change.entry_mode().is_tree() {
                paths.insert(change.location().to_str_lossy().into_owned());
            }
            Ok::<_, std::convert::Infallible>(std::ops::ControlFlow::Continue(()))
        })
        .context("comparing the commit with its parent")?;
    Ok(paths.into_iter().collect())
}

/// The short name of a tag pointing at `commit` (through annotated tags), the first by name.
fn tag_of(repo: &gix::Repository, commit: gix::ObjectId) -> anyhow::Result<Option<String>> {
    let references = repo.references().context("reading the repository's tags")?;
    let mut tags = BTreeSet::new();
    for reference in references
        .tags()
        .context("reading the repository's tags")?
        .flatten()
    {
        let mut reference = reference;
        // A tag that cannot be peeled (a dangling one) names no commit: pass over it.
        if reference.peel_to_id().is_ok_and(|id| id == commit) {
            tags.insert(reference.name().shorten().to_str_lossy().into_owned());
        }
    }
    Ok(tags.into_iter().next())
}

/// The checkout's absolute path, for a repository without an `origin` remote.
fn checkout_path(repo: &gix::Repository) -> anyhow::Result<String> {
    let dir = repo.workdir().unwrap_or_else(|| repo.git_dir());
    let absolute = std::fs::canonicalize(dir)
        .with_context(|| format!("resolving the path of {}", dir.display()))?;
    Ok(absolute.to_string_lossy().into_owned())
}

/// A remote URL without the user name and password of `scheme://user:password@host/...`; an
/// `ssh://` URL keeps its user (`git`), which is no secret. scp-like (`git@host:path`) and
/// local paths are kept as they are.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match scheme.eq_ignore_ascii_case("ssh") {
        true => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{path}")
        }
        false => format!("{scheme}://{host}{path}"),
    }
}

/// Seconds since the Unix epoch as RFC 3339 in UTC (`2024-06-03T09:15:00Z`).
fn rfc3339_utc(seconds: i64) -> anyhow::Result<String> {
    let time = time::OffsetDateTime::from_unix_timestamp(seconds)
        .with_context(|| format!("the commit time {seconds} is out of range"))?;
    time.format(&time::format_description::well_known::Rfc3339)
        .context("formatting the commit time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_lose_their_credentials() {
        assert_eq!(
            without_credentials("https://x-access-token:ghs_secret@github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            without_credentials("https://user@git.example.com:8443/ml/repo"),
            "https://git.example.com:8443/ml/repo"
        );
        assert_eq!(
            without_credentials("ssh://git:pw@git.example.com/ml/repo.git"),
            "ssh://git@git.example.com/ml/repo.git"
        );
        assert_eq!(
            without_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
        assert_eq!(
            without_credentials("https://git.example.com/ml/a@b"),
            "https://git.example.com/ml/a@b"
        );
        assert_eq!(without_credentials("/srv/git/repo"), "/srv/git/repo");
    }

    #[test]
    fn commit_times_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(1_717_406_100).unwrap(), "2024-06-03T09:15:00Z");
        assert_eq!(rfc3339_utc(0).unwrap(), "1970-01-01T00:00:00Z");
    }
}
