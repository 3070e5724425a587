//! Gathers a model version's dossier from the projection and the log: the records that name it
//! or its model, what its lineage names, the protocols its results were run against and the
//! deviations raised on its assessments, each with its latest content read back from the log.

use modeltrail_domain::dossier::{Doc, Dossier};
use modeltrail_domain::projection::RecordState;
use std::collections::BTreeMap;

use crate::error::ApiError;
use crate::state::Shared;

/// The dossier of model version `id`; 404 when there is no such model version.
pub async fn gather(state: &Shared, id: &str) -> Result<Dossier, ApiError> {
    let mv_state = state
        .read()
        .record("model_version", id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("model_version `{id}` does not exist")))?;
    let model_version = doc(state, &mv_state).await?;
    let model_id = model_version.text("model").map(str::to_owned);
    let model_state = model_id
        .as_deref()
        .and_then(|m| state.read().record("model", m).cloned());
    let model = match model_state {
        Some(s) => Some(doc(state, &s).await?),
        None => None,
    };

    // Records naming the version or its model, and what the version itself names.
    let mut wanted: BTreeMap<(String, String), RecordState> = BTreeMap::new();
    {
        let p = state.read();
        let mut take = |r: &RecordState| {
            wanted
                .entry((r.kind.clone(), r.id.clone()))
                .or_insert_with(|| r.clone());
        };
        p.referrers("model_version", id).for_each(&mut take);
        if let Some(m) = &model_id {
            p.referrers("model", m).for_each(&mut take);
        }
        for (kind, target) in modeltrail_domain::dossier::references(&model_version.data) {
            if let Some(r) = p.record(kind, target) {
                take(r);
            }
        }
    }
    let mut related = Vec::new();
    for r in wanted.values() {
        related.push(doc(state, r).await?);
    }
    // Second ring: what those records name (protocols of results, a run's datasets) and the
    // records raised on them (deviations covering an assessment).
    let mut second: BTreeMap<(String, String), RecordState> = BTreeMap::new();
    {
        let p = state.read();
        for d in &related {
            for (kind, target) in modeltrail_domain::dossier::references(&d.data) {
                if let Some(r) = p.record(kind, target) {
                    second
                        .entry((r.kind.clone(), r.id.clone()))
                        .or_insert_with(|| r.clone());
                }
            }
            for r in p.referrers("", &d.id) {
                second
                    .entry((r.kind.clone(), r.id.clone()))
                    .or_insert_with(|| r.clone());
            }
        }
        second.retain(|key, _| !wanted.contains_key(key) && key.1 != id);
    }
    for r in second.values() {
        related.push(doc(state, r).await?);
    }
    Ok(Dossier {
        model_version,
        model,
        related,
    })
}

/// A record's latest content (for a voided record, the content it had before the void) and
/// signatures.
pub(crate) async fn doc(state: &Shared, record: &RecordState) -> Result<Doc, ApiError> {
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    let content = record
        .versions
        .iter()
        .rev()
        .find(|v| v.action != modeltrail_domain::actions::RECORD_VOID)
        .unwrap_or(head);
    let data = state.event(content.seq).await?.payload;
    Ok(Doc {
        kind: record.kind.clone(),
        id: record.id.clone(),
        version: head.version,
        seq: head.seq,
        created_seq: record.versions.first().map_or(head.seq, |v| v.seq),
        voided: record.voided,
        state: record.workflow.clone(),
        data,
        signatures: record.signatures.clone(),
    })
}
