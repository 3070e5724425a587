//! HTTPS with rustls when a certificate and key are given: a client that trusts the certificate
//! talks to the API; unreadable key material stops the start with a message naming the file.

use modeltrail_server::{start, ServerConfig, StartError, TlsFiles};
use modeltrail_store::StoreConfig;
use serde_json::json;

fn config(dir: &std::path::Path, tls: TlsFiles) -> ServerConfig {
    let mut config = ServerConfig::new(StoreConfig {
        data_dir: dir.join("data"),
        database_url: None,
    });
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some("admin-password-for-tests".into());
    config.tls = Some(tls);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_served_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.cert.pem()).unwrap();
    std::fs::write(&files.key, cert.key_pair.serialize_pem()).unwrap();
    let running = start(config(dir.path(), files)).await.unwrap();
    let port = running.addr.port();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", running.addr)
        .build()
        .unwrap();
    let health = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    let login = client
        .post(format!("https://localhost:{port}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "admin-password-for-tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    // Plain HTTP to the TLS port gets no API answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.map_or(true, |r| !r.status().is_success()));
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_file_is_named_and_its_contents_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.cert.pem()).unwrap();
    std::fs::write(&files.key, "SECRET-MATERIAL not a key").unwrap();
    match start(config(dir.path(), files)).await {
        Err(e @ StartError::Tls(_)) => {
            let message = e.to_string();
            assert!(message.contains("key.pem"), "{message}");
            assert!(!message.contains("SECRET-MATERIAL"), "{message}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("started with a bad key"),
    }
}
