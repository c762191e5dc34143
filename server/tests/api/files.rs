//! The file store and its two routes on every backend: content-addressed
//! storage (once per content, also concurrently), the owner's route with
//! every header, foreign ids (IDOR), share-scoped addresses limited to the
//! shared branch and revoked with the share, ranges and revalidation,
//! files that could carry script served as downloads, blobs removed with
//! the last thread or account that used them, and the thread API's
//! `attachments`. Images come from the fake Mistral through the real client.
use crate::support::*;
use app::server::config::Secret;
use app::server::entities::{attachments, blobs};
use app::server::services::files;
use app::vocab::{MessageId, UserId};
use reqwest::header::HeaderMap;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{json, Value};

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn user_id(app: &TestApp, t: &str) -> String {
    app.get("/api/user", Auth::Bearer(t)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn new_thread(app: &TestApp, t: &str) -> String {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {"name": "Pictures"}}),
            Auth::Bearer(t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["thread"]["id"].as_str().unwrap().to_string()
}

/// Stores messages `(id, parent, role, date)` in `thread`.
async fn add_messages(
    app: &TestApp,
    t: &str,
    thread: &str,
    msgs: &[(&str, Option<&str>, &str, i64)],
) {
    let msgs: Vec<Value> = msgs
        .iter()
        .map(|(id, parent, role, date)| {
            json!({"idMessage": id, "idThread": thread, "parentId": parent, "role": role,
                   "text": format!("{role} {date}"), "date": date})
        })
        .collect();
    let r = app
        .post(
            "/api/thread",
            json!({"action": "sync", "messages": msgs}),
            Auth::Bearer(t),
        )
        .await;
    assert_eq!(r.body["inserted"], msgs.len(), "{:?}", r.body);
}

async fn share(app: &TestApp, t: &str, thread: &str) -> String {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "share", "idThread": thread}),
            Auth::Bearer(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["shareCode"].as_str().unwrap().to_string()
}

/// An image as the generation would get it: downloaded from the fake
/// Mistral by the real client.
async fn download(app: &TestApp, file_id: &str) -> Vec<u8> {
    app.state
        .mistral
        .file_content(&Secret::new("test-key"), file_id)
        .await
        .expect("download from the fake")
}

/// Stores a generated image for `message` of `user`; its attachment id.
async fn generated(app: &TestApp, user: &str, message: &str, bytes: &[u8]) -> String {
    files::add_generated_image(
        &app.db,
        &UserId::new(user),
        &MessageId::new(message),
        bytes,
        "image_generated_0",
        Some("an orange cat in an office".into()),
    )
    .await
    .expect("stored")
    .id
}

/// A GET that keeps the body as bytes.
async fn fetch(
    app: &TestApp,
    path: &str,
    auth: Auth<'_>,
    extra: &[(&str, &str)],
) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = app.http.get(app.url(path));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req = match auth {
        Auth::None => req,
        Auth::Bearer(t) => req.bearer_auth(t),
        Auth::Cookie(t) => req.header("cookie", format!("access_token={t}")),
    };
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    (status, headers, body)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn blob_exists(app: &TestApp, sha: &str) -> bool {
    blobs::Entity::find_by_id(sha.to_string())
        .one(&app.db)
        .await
        .unwrap()
        .is_some()
}

async fn sha_of(app: &TestApp, file: &str) -> String {
    attachments::Entity::find_by_id(file.to_string())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .blob_sha256
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A user with a thread `u1 → a1` (and an older sibling answer `alt`),
/// and a generated image on `a1`.
struct Scene {
    token: String,
    uid: String,
    thread: String,
    u1: String,
    a1: String,
    alt: String,
    file: String,
    png: Vec<u8>,
}

async fn scene(app: &TestApp, email: &str) -> Scene {
    let token = app.register(email).await;
    let uid = user_id(app, &token).await;
    let thread = new_thread(app, &token).await;
    let (u1, alt, a1) = (uuid(), uuid(), uuid());
    add_messages(
        app,
        &token,
        &thread,
        &[
            (&u1, None, "user", 1),
            (&alt, Some(&u1), "assistant", 2),
            (&a1, Some(&u1), "assistant", 3),
        ],
    )
    .await;
    let png = download(app, "933c5b5a-1c47-4cdd-84f6-f32526bd161b").await;
    let file = generated(app, &uid, &a1, &png).await;
    Scene {
        token,
        uid,
        thread,
        u1,
        a1,
        alt,
        file,
        png,
    }
}

db_test!(the_same_bytes_are_stored_once, |app| {
    let png = download(&app, "933c5b5a-1c47-4cdd-84f6-f32526bd161b").await;
    let other = download(&app, "0b8e2f8e-0000-4000-8000-000000000000").await;
    assert_ne!(png, other, "the fake gives different ids different images");
    let (sha, mime) = files::store_blob(&app.db, &png).await.unwrap();
    assert_eq!(
        (sha.as_str(), mime),
        (sha256_hex(&png).as_str(), "image/png")
    );
    assert_eq!(files::store_blob(&app.db, &png).await.unwrap().0, sha);
    assert_eq!(app.count("blobs").await, 1);
    // Concurrent stores of new bytes (several pool connections) race on
    // the insert: all succeed, one row.
    let stores = (0..6).map(|_| files::store_blob(&app.db, &other));
    for r in futures::future::join_all(stores).await {
        assert_eq!(r.unwrap().0, sha256_hex(&other));
    }
    assert_eq!(app.count("blobs").await, 2);
    let row = blobs::Entity::find_by_id(sha.clone())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.size, row.mime.as_str(), row.data),
        (png.len() as i64, "image/png", png.clone())
    );
    // Two images of the same bytes: two attachments, one blob.
    let s = scene(&app, "twice@example.com").await;
    let again = generated(&app, &s.uid, &s.a1, &png).await;
    assert_ne!(again, s.file);
    assert_eq!(
        (app.count("attachments").await, app.count("blobs").await),
        (2, 2)
    );
});

db_test!(the_owner_gets_the_bytes_with_every_header, |app| {
    let s = scene(&app, "owner@example.com").await;
    let path = format!("/api/files/{}", s.file);
    for auth in [Auth::Bearer(&s.token), Auth::Cookie(&s.token)] {
        let (status, h, body) = fetch(&app, &path, auth, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(body, s.png, "the exact bytes");
        assert_eq!(header(&h, "content-type"), "image/png");
        assert_eq!(header(&h, "content-length"), s.png.len().to_string());
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        assert_eq!(header(&h, "etag"), format!("\"{}\"", sha256_hex(&s.png)));
        assert_eq!(
            header(&h, "cache-control"),
            "private, max-age=31536000, immutable"
        );
        assert_eq!(header(&h, "accept-ranges"), "bytes");
        assert_eq!(
            header(&h, "content-disposition"),
            "inline; filename=\"image_generated_0.png\"; filename*=UTF-8''image_generated_0.png"
        );
        assert_eq!(
            header(&h, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'; sandbox"
        );
        assert!(h.get("content-encoding").is_none());
    }
    // Even a browser that accepts compression gets the stored bytes as they are.
    let (status, h, body) = fetch(
        &app,
        &path,
        Auth::Bearer(&s.token),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    assert_eq!((status, body.len()), (200, s.png.len()));
    assert!(h.get("content-encoding").is_none());
    // HEAD: the headers without the body.
    let r = app
        .http
        .head(app.url(&path))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-length"),
        s.png.len().to_string()
    );
    // No session: 401, like every other private route.
    let (status, _, body) = fetch(&app, &path, Auth::None, &[]).await;
    assert_eq!(status, 401);
    assert!(json_of(&body)["error"].is_string());
});

db_test!(another_users_file_ids_answer_404, |app| {
    let victim = scene(&app, "victim@example.com").await;
    let attacker = scene(&app, "attacker@example.com").await;
    let not_found = json!({"error": "File not found"});
    let missing = uuid();
    for target in [
        victim.file.clone(),
        victim.file.to_uppercase(),
        format!(" {} ", victim.file),
        missing.clone(),
        "x".repeat(5000),
        "not-a-uuid".into(),
    ] {
        let (status, h, body) = fetch(
            &app,
            &format!("/api/files/{}", target.replace(' ', "%20")),
            Auth::Bearer(&attacker.token),
            &[],
        )
        .await;
        assert_eq!(
            (status, json_of(&body)),
            (404, not_found.clone()),
            "{target}"
        );
        assert!(h.get("etag").is_none());
    }
    // The attacker's own share link does not reach the victim's file.
    let code = share(&app, &attacker.token, &attacker.thread).await;
    let (status, _, body) = fetch(
        &app,
        &format!("/api/shared/{code}/files/{}", victim.file),
        Auth::None,
        &[],
    )
    .await;
    assert_eq!((status, json_of(&body)), (404, not_found.clone()));
    // Nor do the victim's and attacker's rows change, and the owner still reads it.
    let (status, _, body) = fetch(
        &app,
        &format!("/api/files/{}", victim.file),
        Auth::Bearer(&victim.token),
        &[],
    )
    .await;
    assert_eq!((status, body), (200, victim.png.clone()));
    // The thread API shows nobody else's files either.
    let r = app
        .get(
            &format!("/api/thread?idThread={}", victim.thread),
            Auth::Bearer(&attacker.token),
        )
        .await;
    assert_eq!(r.status, 404);
});

db_test!(share_readers_get_the_shared_branch_files_only, |app| {
    let s = scene(&app, "sharer@example.com").await;
    // A file on the other version of the answer, not on the shared branch.
    let other = download(&app, "5e0b43f6-0000-4000-8000-00000000000a").await;
    let alt_file = generated(&app, &s.uid, &s.alt, &other).await;
    let code = share(&app, &s.token, &s.thread).await;
    // Added after the share: not in the snapshot.
    let u2 = uuid();
    add_messages(&app, &s.token, &s.thread, &[(&u2, Some(&s.a1), "user", 4)]).await;
    let later_file = generated(&app, &s.uid, &u2, &other).await;
    // A draft upload without a message.
    let draft = attachments::ActiveModel {
        id: Set(uuid()),
        user_id: Set(s.uid.clone()),
        message_id: Set(None),
        blob_sha256: Set(sha_of(&app, &s.file).await),
        kind: Set("upload".into()),
        filename: Set("draft.png".into()),
        mime: Set("image/png".into()),
        size: Set(1),
        extracted_text: Set(None),
        seen: Set(None),
        created_at: Set(1),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id;

    let shared_path = format!("/api/shared/{code}/files/{}", s.file);
    let (status, h, body) = fetch(&app, &shared_path, Auth::None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, s.png);
    assert_eq!(header(&h, "content-type"), "image/png");
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    assert_eq!(header(&h, "etag"), format!("\"{}\"", sha256_hex(&s.png)));
    assert!(header(&h, "content-disposition").starts_with("inline; "));
    // Cross-site GETs (an <img> on another page) are not refused.
    let (status, _, _) = fetch(
        &app,
        &shared_path,
        Auth::None,
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(status, 200);
    let not_found = json!({"error": "File not found"});
    for id in [&alt_file, &later_file, &draft, &uuid()] {
        let (status, _, body) = fetch(
            &app,
            &format!("/api/shared/{code}/files/{id}"),
            Auth::None,
            &[],
        )
        .await;
        assert_eq!((status, json_of(&body)), (404, not_found.clone()), "{id}");
    }
    // The owner's address is not the share's.
    let (status, _, _) = fetch(&app, &format!("/api/files/{}", s.file), Auth::None, &[]).await;
    assert_eq!(status, 401);
    for bad in ["short", "not a code!!!!!!!!!!!!!", &"A".repeat(65)] {
        let (status, _, body) = fetch(
            &app,
            &format!("/api/shared/{}/files/{}", bad.replace(' ', "%20"), s.file),
            Auth::None,
            &[],
        )
        .await;
        assert_eq!((status, json_of(&body)), (404, not_found.clone()), "{bad}");
    }

    let r = app
        .post(
            "/api/thread",
            json!({"action": "unshare", "idThread": s.thread}),
            Auth::Bearer(&s.token),
        )
        .await;
    assert_eq!(r.status, 200);
    let (status, _, body) = fetch(&app, &shared_path, Auth::None, &[]).await;
    assert_eq!((status, json_of(&body)), (404, not_found.clone()));
    // Shared again: a new code that shows the newer branch, the old one stays dead.
    let code2 = share(&app, &s.token, &s.thread).await;
    assert_ne!(code, code2);
    for id in [&s.file, &later_file] {
        let (status, _, _) = fetch(
            &app,
            &format!("/api/shared/{code2}/files/{id}"),
            Auth::None,
            &[],
        )
        .await;
        assert_eq!(status, 200, "{id}");
    }
    let (status, _, _) = fetch(
        &app,
        &format!("/api/shared/{code2}/files/{alt_file}"),
        Auth::None,
        &[],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = fetch(&app, &shared_path, Auth::None, &[]).await;
    assert_eq!(status, 404);
});

db_test!(ranges_and_revalidation, |app| {
    let s = scene(&app, "ranges@example.com").await;
    let path = format!("/api/files/{}", s.file);
    let len = s.png.len();
    let etag = format!("\"{}\"", sha256_hex(&s.png));
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, len - 1),
        ("bytes=-16", len - 16, len - 1),
        ("bytes=10-99999999", 10, len - 1),
    ] {
        let (status, h, body) =
            fetch(&app, &path, Auth::Bearer(&s.token), &[("range", range)]).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(body, s.png[start..=end], "{range}");
        assert_eq!(
            header(&h, "content-range"),
            format!("bytes {start}-{end}/{len}")
        );
        assert_eq!(header(&h, "content-length"), (end - start + 1).to_string());
        assert_eq!(header(&h, "content-type"), "image/png");
        assert_eq!(header(&h, "etag"), etag);
    }
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 5, len + 9),
        "bytes=-0".into(),
    ] {
        let (status, h, body) =
            fetch(&app, &path, Auth::Bearer(&s.token), &[("range", &range)]).await;
        assert_eq!(status, 416, "{range}");
        assert_eq!(header(&h, "content-range"), format!("bytes */{len}"));
        assert_eq!(header(&h, "content-type"), "application/json");
        assert_eq!(
            json_of(&body),
            json!({"error": format!("Range not satisfiable: the file has {len} bytes")})
        );
    }
    // Malformed or multiple ranges are ignored: the whole file.
    for range in ["bytes=5-1", "bytes=0-1,4-5", "lines=1-2", "bytes=x-"] {
        let (status, _, body) =
            fetch(&app, &path, Auth::Bearer(&s.token), &[("range", range)]).await;
        assert_eq!((status, body.len()), (200, len), "{range}");
    }
    // A stale If-Range gets the whole file; a current one the range.
    let (status, _, body) = fetch(
        &app,
        &path,
        Auth::Bearer(&s.token),
        &[("range", "bytes=0-3"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!((status, body.len()), (200, len));
    let (status, _, body) = fetch(
        &app,
        &path,
        Auth::Bearer(&s.token),
        &[("range", "bytes=0-3"), ("if-range", &etag)],
    )
    .await;
    assert_eq!((status, body), (206, s.png[..4].to_vec()));
    // Revalidation.
    for inm in [
        etag.clone(),
        format!("\"other\", {etag}"),
        format!("W/{etag}"),
        "*".to_string(),
    ] {
        let (status, h, body) = fetch(
            &app,
            &path,
            Auth::Bearer(&s.token),
            &[("if-none-match", &inm)],
        )
        .await;
        assert_eq!(status, 304, "{inm}");
        assert!(body.is_empty());
        assert_eq!(header(&h, "etag"), etag);
        assert_eq!(
            header(&h, "cache-control"),
            "private, max-age=31536000, immutable"
        );
    }
    let (status, _, body) = fetch(
        &app,
        &path,
        Auth::Bearer(&s.token),
        &[("if-none-match", "\"other\"")],
    )
    .await;
    assert_eq!((status, body), (200, s.png.clone()));
    // The share route revalidates and ranges the same way.
    let code = share(&app, &s.token, &s.thread).await;
    let shared = format!("/api/shared/{code}/files/{}", s.file);
    let (status, _, _) = fetch(&app, &shared, Auth::None, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    let (status, _, body) = fetch(&app, &shared, Auth::None, &[("range", "bytes=-4")]).await;
    assert_eq!((status, body), (206, s.png[len - 4..].to_vec()));
});

/// Stores `bytes` under a claimed type and name, as a careless writer
/// might (bypassing the sniffer), on message `message` of `user`.
async fn raw_file(
    app: &TestApp,
    user: &str,
    message: &str,
    bytes: &[u8],
    claimed: &str,
    name: &str,
) -> String {
    let sha = sha256_hex(bytes);
    blobs::ActiveModel {
        sha256: Set(sha.clone()),
        size: Set(bytes.len() as i64),
        mime: Set(claimed.into()),
        data: Set(bytes.to_vec()),
        created_at: Set(1),
    }
    .insert(&app.db)
    .await
    .unwrap();
    attachments::ActiveModel {
        id: Set(uuid()),
        user_id: Set(user.into()),
        message_id: Set(Some(message.into())),
        blob_sha256: Set(sha),
        kind: Set("upload".into()),
        filename: Set(name.into()),
        mime: Set(claimed.into()),
        size: Set(bytes.len() as i64),
        extracted_text: Set(None),
        seen: Set(None),
        created_at: Set(1),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

db_test!(files_that_could_carry_script_are_downloads, |app| {
    let s = scene(&app, "script@example.com").await;
    let cases = [
        (&b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"[..], "image/svg+xml", "cat.svg"),
        (b"<!DOCTYPE html><script>alert(document.cookie)</script>", "text/html", "page\".html"),
        (b"<?xml version=\"1.0\"?><x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>", "application/xml", "a/b\\c.xml"),
        (b"alert(1)", "application/javascript", "x.js"),
        // Bytes claiming to be a PNG by name and type only.
        (b"<html><body onload=alert(1)>", "image/png", "fake.png"),
    ];
    for (bytes, claimed, name) in cases {
        let id = raw_file(&app, &s.uid, &s.a1, bytes, claimed, name).await;
        let (status, h, body) = fetch(
            &app,
            &format!("/api/files/{id}"),
            Auth::Bearer(&s.token),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(body, bytes);
        assert_eq!(
            header(&h, "content-type"),
            "application/octet-stream",
            "{name}"
        );
        assert_eq!(header(&h, "x-content-type-options"), "nosniff");
        let disposition = header(&h, "content-disposition");
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        let ascii = disposition.split('"').nth(1).unwrap();
        assert!(
            !ascii.contains(['/', '\\', '"', '\r', '\n']),
            "{disposition}"
        );
        assert!(disposition.contains("; filename*=UTF-8''"), "{disposition}");
        assert!(header(&h, "content-security-policy").ends_with("; sandbox"));
    }
    // A PDF is shown inline (without sandbox, which PDF viewers refuse),
    // still under `default-src 'none'`.
    let id = raw_file(
        &app,
        &s.uid,
        &s.a1,
        b"%PDF-1.7\n%%EOF\n",
        "text/html",
        "r\u{e9}sum\u{e9}.pdf",
    )
    .await;
    let (status, h, _) = fetch(
        &app,
        &format!("/api/files/{id}"),
        Auth::Bearer(&s.token),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), "application/pdf");
    assert_eq!(
        header(&h, "content-disposition"),
        "inline; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    );
    assert_eq!(
        header(&h, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
});

db_test!(deleting_threads_and_accounts_removes_unused_images, |app| {
    let s = scene(&app, "deleter@example.com").await;
    let kept_thread = new_thread(&app, &s.token).await;
    let k1 = uuid();
    add_messages(&app, &s.token, &kept_thread, &[(&k1, None, "assistant", 1)]).await;
    // `only` is used by the doomed thread alone; `both` by both threads.
    let only = download(&app, "aaaaaaaa-0000-4000-8000-000000000001").await;
    let both = download(&app, "bbbbbbbb-0000-4000-8000-000000000002").await;
    generated(&app, &s.uid, &s.u1, &only).await;
    generated(&app, &s.uid, &s.alt, &both).await;
    let kept_file = generated(&app, &s.uid, &k1, &both).await;
    // Another user's image of the same bytes as `s.png`.
    let other = scene(&app, "other@example.com").await;
    assert_eq!(sha_of(&app, &other.file).await, sha_of(&app, &s.file).await);
    assert_eq!(app.count("blobs").await, 3);

    let r = app
        .post(
            "/api/thread",
            json!({"action": "delete", "idThread": s.thread}),
            Auth::Bearer(&s.token),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        !blob_exists(&app, &sha256_hex(&only)).await,
        "unreferenced: gone"
    );
    assert!(
        blob_exists(&app, &sha256_hex(&both)).await,
        "still used by the other thread"
    );
    assert!(
        blob_exists(&app, &sha256_hex(&s.png)).await,
        "still used by another user"
    );
    let (status, _, body) = fetch(
        &app,
        &format!("/api/files/{}", s.file),
        Auth::Bearer(&s.token),
        &[],
    )
    .await;
    assert_eq!(
        (status, json_of(&body)),
        (404, json!({"error": "File not found"}))
    );
    let (status, _, _) = fetch(
        &app,
        &format!("/api/files/{kept_file}"),
        Auth::Bearer(&s.token),
        &[],
    )
    .await;
    assert_eq!(status, 200);

    let r = app
        .request(
            reqwest::Method::DELETE,
            "/api/auth/delete",
            Some(json!({"confirm": "deleter@example.com"})),
            Auth::Bearer(&s.token),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        !blob_exists(&app, &sha256_hex(&both)).await,
        "the account's last image: gone"
    );
    assert!(
        blob_exists(&app, &sha256_hex(&s.png)).await,
        "another user's: kept"
    );
    assert_eq!(
        (app.count("attachments").await, app.count("blobs").await),
        (1, 1)
    );
    let (status, _, body) = fetch(
        &app,
        &format!("/api/files/{}", other.file),
        Auth::Bearer(&other.token),
        &[],
    )
    .await;
    assert_eq!((status, body), (200, other.png.clone()));
});

db_test!(thread_views_carry_attachments_for_their_reader, |app| {
    let s = scene(&app, "viewer@example.com").await;
    let expected = |url: String| {
        json!([{
            "id": s.file,
            "name": "image_generated_0.png",
            "mime": "image/png",
            "size": s.png.len(),
            "kind": "generated",
            "url": url,
            "width": 64,
            "height": 48,
            "prompt": "an orange cat in an office",
        }])
    };
    let owner_url = format!("/api/files/{}", s.file);
    let find = |messages: &Value, id: &str| -> Value {
        messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing from {messages}"))
    };
    for path in [
        format!("/api/thread?idThread={}", s.thread),
        format!("/api/thread?idThread={}&limit=2", s.thread),
    ] {
        let r = app.get(&path, Auth::Bearer(&s.token)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            find(&r.body["messages"], &s.a1)["attachments"],
            expected(owner_url.clone()),
            "{path}"
        );
        // Messages without files have no `attachments` member at all.
        assert!(
            find(&r.body["messages"], &s.alt)
                .get("attachments")
                .is_none(),
            "{path}"
        );
    }
    let r = app
        .get(
            &format!("/api/thread?idThread={}", s.thread),
            Auth::Bearer(&s.token),
        )
        .await;
    assert!(find(&r.body["messages"], &s.u1)
        .get("attachments")
        .is_none());
    // The owner's address serves what the list announced.
    let (status, h, _) = fetch(&app, &owner_url, Auth::Bearer(&s.token), &[]).await;
    assert_eq!(
        (status, header(&h, "content-length")),
        (200, s.png.len().to_string().as_str())
    );

    let code = share(&app, &s.token, &s.thread).await;
    let share_url = format!("/api/shared/{code}/files/{}", s.file);
    for path in [
        format!("/api/thread?shareCode={code}"),
        format!("/api/thread?shareCode={code}&limit=1"),
    ] {
        let r = app.get(&path, Auth::None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            find(&r.body["messages"], &s.a1)["attachments"],
            expected(share_url.clone()),
            "{path}"
        );
    }
    let (status, _, body) = fetch(&app, &share_url, Auth::None, &[]).await;
    assert_eq!((status, body), (200, s.png.clone()));
});

db_test!(the_fake_refuses_bad_keys_and_unknown_files, |app| {
    let client = &app.state.mistral;
    let err = client
        .file_content(
            &Secret::new("invalid-key"),
            "933c5b5a-1c47-4cdd-84f6-f32526bd161b",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, app::server::mistral::MistralError::Unauthorized),
        "{err:?}"
    );
    let err = client
        .file_content(&Secret::new("k"), "missing-933c5b5a")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, app::server::mistral::MistralError::Rejected { status: 404, message } if message == "File not found"),
        "{err:?}"
    );
    let last = app.mistral.last_request().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("GET", "/v1/files/missing-933c5b5a/content")
    );
    assert_eq!(last.accept.as_deref(), Some("application/octet-stream"));
    assert_eq!(last.api_key.as_deref(), Some("k"));
});
