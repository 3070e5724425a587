//! What a dataset version's server-computed profile was computed from: the data files it
//! covers (`/profile/source`, a list of path, SHA-256 and size) and the blob holding the
//! row-digest set of all their rows (`/profile/row_digests`). Records written before profiles
//! covered several files hold one file as an object with its `row_digests` inside; both shapes
//! are read here, so every reader (uploads, independence, the gate) sees the same files.

use serde_json::Value;

/// One data file a profile covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfiledFile {
    /// Its path in the dataset's manifest.
    pub path: String,
    /// SHA-256 of its bytes (the blob it is stored as).
    pub sha256: String,
    pub bytes: u64,
}

impl ProfiledFile {
    /// The file as `/profile/source` lists it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"path": self.path, "sha256": self.sha256, "bytes": self.bytes})
    }

    fn from_json(entry: &Value) -> Option<ProfiledFile> {
        Some(ProfiledFile {
            path: entry.get("path")?.as_str()?.to_owned(),
            sha256: entry.get("sha256")?.as_str()?.to_owned(),
            bytes: entry.get("bytes").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// The files a dataset version's profile covers, in the order they were profiled; empty when
/// it has no profile.
pub fn profiled_files(dataset: &Value) -> Vec<ProfiledFile> {
    match dataset.pointer("/profile/source") {
        Some(Value::Array(files)) => files.iter().filter_map(ProfiledFile::from_json).collect(),
        Some(one @ Value::Object(_)) => ProfiledFile::from_json(one).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The SHA-256 of the blob holding the row-digest set of every row the profile covers.
pub fn row_digests_blob(dataset: &Value) -> Option<&str> {
    dataset
        .pointer("/profile/row_digests")
        .or_else(|| dataset.pointer("/profile/source/row_digests"))
        .and_then(Value::as_str)
}

/// Whether a manifest path names a data file the server profiles (CSV or Parquet, by the
/// extension `modeltrail dataset register --upload` uploads by).
pub fn is_data_file(path: &str) -> bool {
    let extension = path
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase());
    matches!(extension.as_deref(), Some("csv" | "parquet" | "pq"))
}

/// The manifest's data files the profile does not cover yet, in manifest order.
pub fn unprofiled_data_files(dataset: &Value) -> Vec<String> {
    let profiled = profiled_files(dataset);
    dataset
        .get("manifest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.get("path").and_then(Value::as_str))
        .filter(|path| is_data_file(path) && !profiled.iter().any(|file| file.path == *path))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_shapes_of_source_are_read() {
        let listed = json!({"profile": {
            "source": [
                {"path": "a.csv", "sha256": "aa", "bytes": 3},
                {"path": "b.csv", "sha256": "bb", "bytes": 4}
            ],
            "row_digests": "rr"
        }});
        let paths: Vec<String> = profiled_files(&listed)
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(paths, ["a.csv", "b.csv"]);
        assert_eq!(row_digests_blob(&listed), Some("rr"));

        let one = json!({"profile": {"source":
            {"path": "a.csv", "sha256": "aa", "bytes": 3, "row_digests": "r1"}}});
        assert_eq!(
            profiled_files(&one),
            [ProfiledFile {
                path: "a.csv".into(),
                sha256: "aa".into(),
                bytes: 3
            }]
        );
        assert_eq!(row_digests_blob(&one), Some("r1"));
        assert!(profiled_files(&json!({})).is_empty());
        assert_eq!(row_digests_blob(&json!({})), None);
    }

    #[test]
    fn unprofiled_data_files_are_the_manifest_csv_and_parquet_not_listed() {
        let dataset = json!({
            "manifest": [
                {"path": "README.md", "sha256": "00"},
                {"path": "part-000.csv", "sha256": "aa"},
                {"path": "part-001.PARQUET", "sha256": "bb"}
            ],
            "profile": {"source": [{"path": "part-000.csv", "sha256": "aa", "bytes": 1}]}
        });
        assert_eq!(unprofiled_data_files(&dataset), ["part-001.PARQUET"]);
    }
}
