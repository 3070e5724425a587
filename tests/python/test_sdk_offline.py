"""The SDK's verification core without a server: the published RFC 6962 vectors (roots,
inclusion and consistency proofs, and damaged proofs refused), RFC 8785 canonical JSON, signed
checkpoints (good, altered, another key, another log), the pin's rules, local dataset hashing,
and columns from pandas and numpy."""

import hashlib
import json
import math
import random
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from modeltrail import (
    CanonicalJsonError,
    CheckpointError,
    ConsistencyError,
    LogVerifier,
    ProofError,
    VerifierKey,
    open_checkpoint,
)
from modeltrail import datasets, merkle
from modeltrail.canonical import canonical_json
from modeltrail.monitoring import to_json_column, to_json_columns
from modeltrail.records import Event
from sdk_helpers import NoteSigner, consistency_proof, inclusion_proof, load_vectors


# -- RFC 6962 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vectors():
    v = load_vectors()
    v["leaf_bytes"] = [bytes.fromhex(x) for x in v["leaves"]]
    return v


def test_every_published_root_is_reproduced(vectors):
    for size, root in vectors["roots"].items():
        assert merkle.root_hash(vectors["leaf_bytes"][: int(size)]).hex() == root


def test_every_published_inclusion_proof_verifies_and_a_damaged_one_does_not(vectors):
    leaves = vectors["leaf_bytes"]
    assert len(vectors["inclusion"]) >= 30
    for case in vectors["inclusion"]:
        i, n = case["leaf_index"], case["tree_size"]
        proof = [bytes.fromhex(h) for h in case["proof"]]
        root = merkle.root_hash(leaves[:n])
        leaf = merkle.leaf_hash(leaves[i])
        merkle.verify_inclusion(leaf, i, n, proof, root)
        # our own proof generator agrees with the published proof
        assert inclusion_proof(leaves[:n], i) == proof
        with pytest.raises(ProofError):
            merkle.verify_inclusion(merkle.leaf_hash(leaves[i] + b"x"), i, n, proof, root)
        if proof:
            damaged = list(proof)
            damaged[-1] = bytes([damaged[-1][0] ^ 1]) + damaged[-1][1:]
            with pytest.raises(ProofError):
                merkle.verify_inclusion(leaf, i, n, damaged, root)
            with pytest.raises(ProofError, match="hashes"):
                merkle.verify_inclusion(leaf, i, n, proof[:-1], root)
        if n > 1:
            with pytest.raises(ProofError):
                merkle.verify_inclusion(leaf, (i + 1) % n, n, proof, root)
    with pytest.raises(ProofError, match="not in a tree"):
        merkle.verify_inclusion(merkle.leaf_hash(b""), 3, 3, [], merkle.empty_root())


def test_every_published_consistency_proof_verifies_and_a_damaged_one_does_not(vectors):
    leaves = vectors["leaf_bytes"]
    for case in vectors["consistency"]:
        m, n = case["size1"], case["size2"]
        proof = [bytes.fromhex(h) for h in case["proof"]]
        first, second = merkle.root_hash(leaves[:m]), merkle.root_hash(leaves[:n])
        merkle.verify_consistency(m, n, proof, first, second)
        assert consistency_proof(leaves, m, n) == proof
        if proof:
            damaged = list(proof)
            damaged[0] = bytes([damaged[0][0] ^ 1]) + damaged[0][1:]
            with pytest.raises(ConsistencyError):
                merkle.verify_consistency(m, n, damaged, first, second)
        if 0 < m < n:
            with pytest.raises(ConsistencyError):
                merkle.verify_consistency(m, n, proof, merkle.leaf_hash(b"forged"), second)
    with pytest.raises(ConsistencyError, match="different roots"):
        merkle.verify_consistency(2, 2, [], merkle.root_hash(leaves[:2]), merkle.root_hash(leaves[1:3]))


def test_proofs_of_larger_random_trees():
    rng = random.Random(6962)
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(70)]
    for _ in range(200):
        n = rng.randrange(1, 71)
        i = rng.randrange(0, n)
        m = rng.randrange(0, n + 1)
        root = merkle.root_hash(leaves[:n])
        merkle.verify_inclusion(merkle.leaf_hash(leaves[i]), i, n, inclusion_proof(leaves[:n], i), root)
        merkle.verify_consistency(m, n, consistency_proof(leaves, m, n), merkle.root_hash(leaves[:m]), root)


# -- RFC 8785 ---------------------------------------------------------------------------------


def test_canonical_json_follows_rfc_8785():
    # RFC 8785 section 3.2.2 example and the sorting example of section 3.2.3
    value = {"numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
             "string": "\u20ac$\u000f\nA'B\"\\\\\"/", "literals": [None, True, False]}
    assert canonical_json(value) == (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}').encode()
    keys = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
    order = [k for k in json.loads(canonical_json(keys))]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # ECMAScript number forms (RFC 8785 appendix B)
    for number, text in [(0.0, "0"), (-0.0, "0"), (1.0, "1"), (5e-324, "5e-324"),
                         (1.7976931348623157e308, "1.7976931348623157e+308"), (1e21, "1e+21"),
                         (1e20, "100000000000000000000"), (9007199254740992.0, "9007199254740992"),
                         (0.000001, "0.000001"), (1e-7, "1e-7"), (-1.5, "-1.5"), (295147905179352830000.0, "295147905179352830000")]:
        assert canonical_json(number) == text.encode(), number
    for bad in (math.nan, math.inf, 2**53 + 1, {1: "x"}, object()):
        with pytest.raises(CanonicalJsonError):
            canonical_json(bad)


def test_an_events_leaf_is_the_hash_of_its_canonical_bytes():
    raw = {"seq": 3, "timestamp": "2026-01-01T00:00:00.000001Z",
           "actor": {"id": "dana", "name": "Dana", "role": "developer", "auth": "session"},
           "client": {}, "action": "record.create",
           "record": {"type": "model", "id": "m1", "version": 1},
           "payload": {"b": 1.0, "a": [1e21, "x"]}}
    event = Event.from_json(raw)
    expected = (b'{"action":"record.create","actor":{"auth":"session","id":"dana","name":"Dana",'
                b'"role":"developer"},"client":{},"payload":{"a":[1e+21,"x"],"b":1},'
                b'"record":{"id":"m1","type":"model","version":1},"seq":3,'
                b'"timestamp":"2026-01-01T00:00:00.000001Z"}')
    assert event.canonical_bytes() == expected
    assert event.leaf_hash() == hashlib.sha256(b"\x00" + expected).digest()


# -- signed checkpoints ----------------------------------------------------------------------------


def test_a_checkpoint_signed_by_the_log_key_opens_and_anything_else_does_not():
    log = NoteSigner("modeltrail.local/log-0123456789abcdef")
    key = VerifierKey.from_text(log.verifier_text())
    assert key.to_text() == log.verifier_text()
    root = merkle.root_hash([b"a", b"b", b"c"])
    note = log.checkpoint(3, root)
    opened = open_checkpoint(note, key)
    assert (opened.origin, opened.size, opened.root) == (log.name, 3, root)

    # altered text: the signature no longer verifies
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(note.replace("\n3\n", "\n4\n", 1), key)
    # another key under the same name: no signature by the log's key
    impostor = NoteSigner(log.name)
    with pytest.raises(CheckpointError, match="no signature by the log's key"):
        open_checkpoint(impostor.checkpoint(3, root), key)
    # the log's key, but a checkpoint of another origin
    with pytest.raises(CheckpointError, match="origin"):
        open_checkpoint(log.checkpoint(3, root, origin="other.example/log"), key)
    # malformed lines are named
    with pytest.raises(CheckpointError, match="line 4"):
        open_checkpoint(log.sign(f"{log.name}\n3\n{note.splitlines()[2]}\nwhen 2026\n"), key)
    with pytest.raises(CheckpointError):
        open_checkpoint(note.split("\n\n")[0] + "\n", key)
    # a key text whose id does not match its key is refused
    name, kid, b64 = log.verifier_text().split("+", 2)
    with pytest.raises(CheckpointError, match="key id"):
        VerifierKey.from_text(f"{name}+{(int(kid, 16) ^ 1):08x}+{b64}")


def test_the_pin_moves_only_to_a_consistent_checkpoint(tmp_path):
    log = NoteSigner("modeltrail.local/log-feedfacecafebeef")
    leaves = [f"event {i}".encode() for i in range(20)]
    notes = {n: log.checkpoint(n, merkle.root_hash(leaves[:n])) for n in (3, 7, 20)}
    fetched = []

    def proofs(m, n):
        fetched.append((m, n))
        return consistency_proof(leaves, m, n)

    pin = tmp_path / "pin.json"
    trust = LogVerifier(public_key=log.verifier_text(), pin_file=pin)
    trust.advance(trust.open(notes[7]), proofs)          # first: trusted as it is
    assert trust.pinned.size == 7 and fetched == []
    trust.advance(trust.open(notes[20]), proofs)
    assert trust.pinned.size == 20 and fetched == [(7, 20)]
    trust.advance(trust.open(notes[3]), proofs)          # older: proven a prefix, pin stays
    assert trust.pinned.size == 20 and fetched[-1] == (3, 20)

    # The pin survives in the file, verified again when read.
    again = LogVerifier(pin_file=pin)
    assert again.pinned.size == 20 and again.key == trust.key

    # A fork: same size, another root; a longer log that does not extend the pin.
    forked = [b"forged"] + leaves[1:]
    with pytest.raises(ConsistencyError, match="different roots"):
        again.advance(again.open(log.checkpoint(20, merkle.root_hash(forked))), proofs)
    longer = forked + [b"more"]
    with pytest.raises(ConsistencyError):
        again.advance(again.open(log.checkpoint(21, merkle.root_hash(longer))),
                      lambda m, n: consistency_proof(longer, m, n))
    assert again.pinned.size == 20

    # An edited pin file is noticed; another key is refused.
    record = json.loads(pin.read_text())
    record["checkpoint"] = record["checkpoint"].replace("\n20\n", "\n19\n")
    pin.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="altered"):
        LogVerifier(pin_file=pin)
    with pytest.raises(CheckpointError, match="not the pinned one"):
        trust.trust_key(NoteSigner(log.name).verifier_text())


# -- datasets -----------------------------------------------------------------------------------


def test_dataset_digests_are_sha256sum_of_the_files_hashed(tmp_path):
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    (root / "train" / "part-1.csv").write_bytes(b"a,b\n1,2\n")
    (root / "train" / "part-2.csv").write_bytes(b"a,b\n3,4\n" * 100_000)
    (root / "test" / "t.csv").write_bytes(b"a,b\n5,6\n")
    (root / "README").write_bytes(b"")
    (root / "link.csv").symlink_to(root / "test" / "t.csv")  # symlinks inside are passed over
    files = datasets.hash_files(datasets.find_files([root]))
    assert [f.path for f in files] == ["README", "test/t.csv", "train/part-1.csv", "train/part-2.csv"]
    for f in files:
        assert f.sha256 == hashlib.sha256(f.disk_path.read_bytes()).hexdigest()
        assert f.size_bytes == f.disk_path.stat().st_size
    text = "".join(f"{hashlib.sha256(f.disk_path.read_bytes()).hexdigest()}  {f.path}\n" for f in files)
    assert datasets.content_digest(files) == hashlib.sha256(text.encode()).hexdigest()
    if shutil.which("sha256sum"):
        listing = subprocess.run(
            "find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum",
            shell=True, cwd=root, capture_output=True, text=True, check=True).stdout.split()[0]
        assert datasets.content_digest(files) == listing
    assert datasets.dataset_format(files) == "mixed"
    # two directories: paths relative to their common root
    two = datasets.find_files([root / "train", root / "test"])
    assert [f.path for f in two] == ["test/t.csv", "train/part-1.csv", "train/part-2.csv"]
    assert datasets.dataset_format(two) == "csv"
    with pytest.raises(FileNotFoundError):
        datasets.find_files([root / "missing"])


# -- columns ------------------------------------------------------------------------------------


def test_columns_from_pandas_and_numpy_keep_nan_infinity_and_missing_apart():
    frame = pd.DataFrame({
        "age": [30.5, np.nan, np.inf, -np.inf, 41.0],
        "count": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        "site": ["Basel", None, "Lyon", np.nan, "Cork"],
        "flag": [True, False, True, True, False],
    })
    columns = to_json_columns(frame)
    assert columns == {
        "age": [30.5, "NaN", "Infinity", "-Infinity", 41.0],
        "count": [1, None, 3, 4, 5],
        "site": ["Basel", None, "Lyon", None, "Cork"],
        "flag": [True, False, True, True, False],
    }
    arrays = {"age": np.array([30.5, np.nan, np.inf, -np.inf, 41.0]),
              "n": np.arange(5, dtype=np.int32), "site": np.array(["a", "b", "c", "d", "e"])}
    as_json = to_json_columns(arrays)
    assert as_json["age"] == columns["age"]
    assert as_json["n"] == [0, 1, 2, 3, 4] and all(type(v) is int for v in as_json["n"])
    assert as_json["site"] == ["a", "b", "c", "d", "e"]
    assert to_json_column([1, 2.5, None, float("nan")], nan_as_null=True) == [1, 2.5, None, None]
    json.dumps(as_json, allow_nan=False)
    with pytest.raises(ValueError, match="differ in length"):
        to_json_columns({"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match="dimensions"):
        to_json_column(np.zeros((2, 2)))
