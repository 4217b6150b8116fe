//! Access keys and node-shared settings.

use std::sync::Arc;

use belfry_core::store::{Store, StoreError as F, StoredKey};
use belfry_core::time::Timestamp;

fn key(id: &str, bearers: Option<Vec<String>>) -> StoredKey {
    StoredKey {
        id: id.into(),
        secret: format!("secret-of-{id}"),
        bearers,
        created: Timestamp(1_700_000_000_000),
    }
}

/// Keys are created once, read back exactly, listed by id and deleted; settings keep the
/// first value stored, whoever asks later and with whatever initial value.
pub async fn keys_and_settings(s: Arc<dyn Store>) {
    let scoped = key(
        "AKIDSCOPED",
        Some(vec!["arn:aws:chime:*/user/alice".into()]),
    );
    s.create_access_key(scoped.clone()).await.unwrap();
    s.create_access_key(key("AKIDADMIN2", None)).await.unwrap();
    assert_eq!(
        s.create_access_key(key("AKIDSCOPED", None)).await,
        Err(F::KeyExists("AKIDSCOPED".into()))
    );
    assert_eq!(
        s.get_access_key("AKIDSCOPED").await.unwrap(),
        Some(scoped.clone())
    );
    assert_eq!(s.get_access_key("AKIDNONE").await.unwrap(), None);
    let ids: Vec<String> = s
        .list_access_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["AKIDADMIN2", "AKIDSCOPED"]);
    assert!(s.delete_access_key("AKIDSCOPED").await.unwrap());
    assert!(!s.delete_access_key("AKIDSCOPED").await.unwrap());
    assert_eq!(s.get_access_key("AKIDSCOPED").await.unwrap(), None);

    assert_eq!(
        s.setting_or_init("page_key", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        s.setting_or_init("page_key", b"second").await.unwrap(),
        b"first"
    );
    // Racing initialisations agree on one value.
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.setting_or_init("raced", &[i]).await.unwrap()
        }));
    }
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.dedup();
    assert_eq!(
        seen.len(),
        1,
        "every racer sees the winner's value: {seen:?}"
    );
}
