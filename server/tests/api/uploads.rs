//! Files in chat (issue 15) on every backend: `POST /api/files` (types from
//! the bytes, limits, quota, one blob per content), what the model receives
//! for each kind (text inline, documents through OCR read once per content,
//! images as image chunks or refused for a blind model), the `seen` record
//! and what a big document leaves out, ownership (IDOR) and share-scoped
//! reads, edit keeping files, the 24-hour sweep of uploads never sent, and
//! deletion. OCR, uploads to Mistral and image chunks go through the fake
//! Mistral, which records them.
use crate::chat::user_with_key;
use crate::support::*;
use app::server::config::MB;
use app::server::entities::attachments;
use app::server::services::uploads;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use testkit::pdf::{pdf_with_pages, png_with_text};

/// `POST /api/files` with one `file` part.
async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Resp {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        // The browser's claim, which the server must not believe.
        .mime_str("image/svg+xml")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let resp = app
        .http
        .post(app.url("/api/files"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn upload_ok(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> String {
    let r = upload(app, token, name, bytes).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn requests_to(app: &TestApp, path: &str) -> usize {
    app.mistral
        .requests()
        .iter()
        .filter(|r| r.path == path)
        .count()
}

/// The text of the last user message of the last answer's chat request
/// (not a title request).
fn last_question(app: &TestApp) -> String {
    last_chat(app)
        .messages()
        .into_iter()
        .rev()
        .find(|(role, _)| role == "user")
        .map(|(_, t)| t)
        .unwrap_or_default()
}

fn last_chat(app: &TestApp) -> testkit::mistral::RecordedRequest {
    app.mistral
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/chat/completions" && r.body["stream"] == true)
        .expect("a chat request")
}

/// Deletes `thread` (the user's only one with files) and checks that no
/// attachment, blob or OCR reading is left.
async fn delete_leaves_no_file(app: &TestApp, t: &str, thread: &str) {
    let r = app
        .post(
            "/api/thread",
            json!({"action": "delete", "idThread": thread}),
            Auth::Bearer(t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for table in ["attachments", "blobs", "ocr_results"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

/// Loads the catalogue, so the server knows which models see images.
async fn load_models(app: &TestApp, t: &str) {
    let r = app.get("/api/models", Auth::Bearer(t)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

db_test!(uploads_are_typed_by_their_bytes_and_stored_once, |app| {
    let t = app.register("up@example.com").await;
    let text = b"fn main() {\n    println!(\"hi\");\n}\n".to_vec();
    let r = upload(&app, &t, "../../main.rs", text.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["name"], "main.rs");
    assert_eq!(r.body["mime"], "text/plain");
    assert_eq!(r.body["kind"], "upload");
    assert_eq!(r.body["size"], text.len());
    assert_eq!(
        r.body["sha256"],
        app::server::crypto::sha256_hex(&text).as_str()
    );
    let first = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["url"], format!("/api/files/{first}"));
    // The same bytes again: a second file, one blob.
    let second = upload_ok(&app, &t, "copy.rs", text.clone()).await;
    assert_ne!(first, second);
    assert_eq!(app.count("blobs").await, 1);
    // A PDF and an image, whatever the browser claimed.
    let pdf = upload(&app, &t, "doc.pdf", pdf_with_pages(&["one"])).await;
    assert_eq!(pdf.body["mime"], "application/pdf", "{:?}", pdf.body);
    let png = upload(&app, &t, "pic", png_with_text("hello")).await;
    assert_eq!(png.body["mime"], "image/png", "{:?}", png.body);
    assert_eq!(png.body["name"], "pic.png");
    // Served back as a download unless it is an image or a PDF.
    let r = app
        .get(&format!("/api/files/{first}"), Auth::Bearer(&t))
        .await;
    assert_eq!(r.status, 200);
    let disposition = r.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // An HTML page is text for a model, and a download for a browser.
    let html = upload_ok(&app, &t, "x.html", b"<script>alert(1)</script>".to_vec()).await;
    let r = app
        .get(&format!("/api/files/{html}"), Auth::Bearer(&t))
        .await;
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));

    // Refusals, each with a sentence.
    let r = upload(&app, &t, "a.bin", vec![0, 1, 2, 3, 0, 255]).await;
    assert_eq!(r.status, 415, "{:?}", r.body);
    assert!(
        r.error().contains("PDF") && r.error().contains("images"),
        "{}",
        r.error()
    );
    let r = upload(&app, &t, "empty.txt", vec![]).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(r.error().contains("empty"));
    let form = reqwest::multipart::Form::new().text("other", "x");
    let r = app
        .http
        .post(app.url("/api/files"))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = upload(&app, "not-a-token", "a.txt", b"hi".to_vec()).await;
    assert_eq!(r.status, 401);
});

db_test_with!(
    limits_per_file_and_quota_are_413_with_the_limit_named,
    |c| {
        c.max_upload_bytes = MB;
        c.user_storage_quota_bytes = 2 * MB;
    },
    |app| {
        let t = app.register("limits@example.com").await;
        let big = "a".repeat(MB as usize + 1).into_bytes();
        let r = upload(&app, &t, "big.txt", big).await;
        assert_eq!(r.status, 413, "{:?}", r.body);
        assert!(r.error().contains("1 MB"), "{}", r.error());
        assert_eq!(app.count("blobs").await, 0);
        let one = "b".repeat(900 * 1024).into_bytes();
        let two = "c".repeat(900 * 1024).into_bytes();
        let three = "d".repeat(900 * 1024).into_bytes();
        upload_ok(&app, &t, "1.txt", one.clone()).await;
        upload_ok(&app, &t, "2.txt", two).await;
        let r = upload(&app, &t, "3.txt", three).await;
        assert_eq!(r.status, 413, "{:?}", r.body);
        assert!(
            r.error().contains("2.0 MB") || r.error().contains("2 MB"),
            "{}",
            r.error()
        );
        // The same bytes again take no more room.
        upload_ok(&app, &t, "1-again.txt", one).await;
        let u = app.get("/api/files/usage", Auth::Bearer(&t)).await;
        assert_eq!(u.status, 200);
        assert_eq!(u.body["usedBytes"], 2 * 900 * 1024);
        assert_eq!(u.body["quotaBytes"], 2 * MB);
        assert_eq!(u.body["maxFileBytes"], MB);
        assert_eq!(u.body["maxFilesPerMessage"], 10);
    }
);

db_test!(a_document_is_read_once_and_sent_with_page_markers, |app| {
    let t = user_with_key(&app, "pdf@example.com").await;
    let pdf = pdf_with_pages(&["Alpha bravo", "Charlie delta", "Echo foxtrot"]);
    let doc = upload_ok(&app, &t, "report.pdf", pdf.clone()).await;
    let notes = upload_ok(
        &app,
        &t,
        "notes.md",
        b"# Notes\nremember the milk\n".to_vec(),
    )
    .await;
    let sent = app
        .send_body(
            &t,
            json!({"text": "Summarise page 2", "attachments": [doc, notes]}),
        )
        .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let (answer, thread) = (sent.answer_id(), sent.thread_id());
    app.answer(&t, &answer).await;
    let q = last_question(&app);
    assert!(q.contains("<file name=\"report.pdf\" pages=\"3\">"), "{q}");
    assert!(q.contains("--- Page 2 ---\n"), "{q}");
    assert!(q.find("Alpha bravo") < q.find("Charlie delta"), "{q}");
    assert!(q.contains("Echo foxtrot"), "{q}");
    assert!(
        q.contains("<file name=\"notes.md\">\n# Notes\nremember the milk\n</file>"),
        "{q}"
    );
    assert!(q.ends_with("Summarise page 2"), "{q}");
    assert_eq!(requests_to(&app, "/v1/ocr"), 1);
    assert_eq!(requests_to(&app, "/v1/files"), 1);
    // Read with the configured OCR model, by the uploaded file's id.
    let ocr = app
        .mistral
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/ocr")
        .unwrap();
    assert_eq!(ocr.body["model"], "mistral-ocr-latest");
    assert_eq!(ocr.body["document"]["type"], "file");

    // The message says what the model saw of each file.
    let attached = &sent.body["userMessage"]["attachments"];
    assert_eq!(attached[0]["id"], doc.as_str(), "{attached}");
    assert_eq!(attached[0]["seen"]["as"], "pages");
    assert_eq!(attached[0]["seen"]["pages"], json!([1, 3]));
    assert_eq!(attached[0]["seen"]["totalPages"], 3);
    assert_eq!(attached[1]["seen"]["as"], "text");
    assert_eq!(
        attached[1]["seen"]["chars"],
        attached[1]["seen"]["totalChars"]
    );
    let r = app
        .get(&format!("/api/thread?idThread={thread}"), Auth::Bearer(&t))
        .await;
    let user = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .cloned()
        .unwrap();
    assert_eq!(&user["attachments"], attached);

    // A follow-up replays the document without reading it again; the same
    // bytes uploaded again are not read again either.
    let again = upload_ok(&app, &t, "same.pdf", pdf).await;
    let sent = app
        .send_body(
            &t,
            json!({"threadId": thread, "text": "And page 3?", "attachments": [again]}),
        )
        .await;
    app.answer(&t, &sent.answer_id()).await;
    assert_eq!(requests_to(&app, "/v1/ocr"), 1, "OCR once per content");
    let chat = last_chat(&app);
    // Both questions carry the document (the fake's echoed answers aside).
    let asked: String = chat
        .messages()
        .into_iter()
        .filter(|(role, _)| role == "user")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(asked.matches("--- Page 1 ---").count(), 2, "{asked}");
    // "Extract text" reads the cache too.
    let r = app
        .get(&format!("/api/files/{doc}/text"), Auth::Bearer(&t))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["as"], "pages");
    assert_eq!(r.body["pages"].as_array().unwrap().len(), 3);
    assert!(r.body["pages"][1]
        .as_str()
        .unwrap()
        .contains("Charlie delta"));
    assert_eq!(r.body["pageTokens"].as_array().unwrap().len(), 3);
    assert_eq!(requests_to(&app, "/v1/ocr"), 1);
    // Deleting the chat takes the files, their blobs and what OCR read.
    assert_eq!(app.count("ocr_results").await, 1);
    delete_leaves_no_file(&app, &t, &thread).await;
});

db_test!(images_go_to_vision_models_and_blind_models_say_so, |app| {
    let t = user_with_key(&app, "img@example.com").await;
    load_models(&app, &t).await;
    let png = png_with_text("STOP sign");
    let img = upload_ok(&app, &t, "sign.png", png.clone()).await;
    let sent = app
        .send_body(
            &t,
            json!({"text": "What is this?", "model": "mistral-small-latest", "attachments": [img]}),
        )
        .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    app.answer(&t, &sent.answer_id()).await;
    let urls = last_chat(&app).image_urls();
    assert_eq!(urls.len(), 1, "{urls:?}");
    use base64::Engine as _;
    let expected = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    assert_eq!(urls[0], expected);
    assert_eq!(
        sent.body["userMessage"]["attachments"][0]["seen"]["as"],
        "image"
    );
    assert_eq!(requests_to(&app, "/v1/ocr"), 0);

    // codestral cannot see: refused before anything is stored…
    let img2 = upload_ok(&app, &t, "sign2.png", png.clone()).await;
    let before = app.count("messages").await;
    let sent = app
        .send_body(
            &t,
            json!({"text": "Read it", "model": "codestral-latest", "attachments": [img2]}),
        )
        .await;
    assert_eq!(sent.status, 400, "{:?}", sent.body);
    assert!(
        sent.error().contains("codestral-latest can't see images"),
        "{}",
        sent.error()
    );
    assert_eq!(app.count("messages").await, before);
    // …or sent as the text OCR reads from it, when asked.
    let sent = app
        .send_body(
            &t,
            json!({"text": "Read it", "model": "codestral-latest", "attachments": [img2], "imagesAsText": true}),
        )
        .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    app.answer(&t, &sent.answer_id()).await;
    let chat = last_chat(&app);
    assert!(chat.image_urls().is_empty());
    assert!(
        last_question(&app).contains("STOP sign"),
        "{}",
        last_question(&app)
    );
    assert_eq!(
        sent.body["userMessage"]["attachments"][0]["seen"]["as"],
        "pages"
    );
    let ocr = app
        .mistral
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/ocr")
        .unwrap();
    assert_eq!(ocr.body["document"]["type"], "image_url");
});

db_test!(
    a_document_too_big_for_the_context_says_what_was_left_out,
    |app| {
        let t = user_with_key(&app, "big@example.com").await;
        load_models(&app, &t).await;
        // 40 pages of ~3,000 characters (~1,000 tokens each) for a 32k model.
        let texts: Vec<String> = (1..=40)
            .map(|i| format!("Page{i} {}", "lorem ipsum ".repeat(250)))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let doc = upload_ok(&app, &t, "book.pdf", pdf_with_pages(&refs)).await;
        let sent = app
            .send_body(
                &t,
                json!({"text": "Summarise", "model": "open-mistral-7b", "attachments": [doc]}),
            )
            .await;
        assert_eq!(sent.status, 201, "{:?}", sent.body);
        app.answer(&t, &sent.answer_id()).await;
        let seen = &sent.body["userMessage"]["attachments"][0]["seen"];
        assert_eq!(seen["totalPages"], 40, "{seen}");
        let last = seen["pages"][1].as_u64().unwrap();
        assert!((15..40).contains(&last), "{seen}");
        assert!(seen["chars"].as_u64() < seen["totalChars"].as_u64());
        let q = last_question(&app);
        assert!(q.contains(&format!("Page{last} ")), "page {last} sent");
        assert!(
            !q.contains(&format!("Page{} ", last + 1)),
            "page {} not sent",
            last + 1
        );
        assert!(
            q.contains(&format!("[Pages {}–40 of book.pdf were left out", last + 1)),
            "the model is told"
        );
        assert!(q.chars().count() as u64 / 3 < 32_000);
    }
);

db_test!(
    files_are_the_owners_and_shared_only_with_their_branch,
    |app| {
        let owner = user_with_key(&app, "owner@example.com").await;
        let other = user_with_key(&app, "other@example.com").await;
        let sent_file = upload_ok(&app, &owner, "a.txt", b"secret plans".to_vec()).await;
        let unsent = upload_ok(&app, &owner, "b.txt", b"more plans".to_vec()).await;
        // Someone else's id is a missing one, everywhere.
        let sent = app
            .send_body(&other, json!({"text": "steal", "attachments": [sent_file]}))
            .await;
        assert_eq!(sent.status, 404, "{:?}", sent.body);
        for path in [
            format!("/api/files/{sent_file}"),
            format!("/api/files/{sent_file}/text"),
        ] {
            let r = app.get(&path, Auth::Bearer(&other)).await;
            assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        }
        let r = app
            .delete(&format!("/api/files/{unsent}"), Auth::Bearer(&other))
            .await;
        assert_eq!(r.status, 404);
        let r = app
        .post(
            "/api/chat/edit",
            json!({"messageId": "00000000-0000-4000-8000-000000000000", "text": "x", "attachments": [unsent]}),
            Auth::Bearer(&other),
        )
        .await;
        assert_eq!(r.status, 404);

        let sent = app
            .send_body(&owner, json!({"text": "read", "attachments": [sent_file]}))
            .await;
        assert_eq!(sent.status, 201, "{:?}", sent.body);
        let thread = sent.thread_id();
        app.answer(&owner, &sent.answer_id()).await;
        let code = app
            .post(
                "/api/thread",
                json!({"action": "share", "idThread": thread}),
                Auth::Bearer(&owner),
            )
            .await
            .body["shareCode"]
            .as_str()
            .unwrap()
            .to_string();
        let r = app
            .get(&format!("/api/thread?shareCode={code}"), Auth::None)
            .await;
        let shared_url = format!("/api/shared/{code}/files/{sent_file}");
        assert!(r.body.to_string().contains(&shared_url), "{:?}", r.body);
        assert_eq!(app.get(&shared_url, Auth::None).await.status, 200);
        let r = app
            .get(&format!("/api/shared/{code}/files/{unsent}"), Auth::None)
            .await;
        assert_eq!(r.status, 404, "an upload never sent is not on the branch");
        // A file sent with a message is deleted with its chat, not alone.
        let r = app
            .delete(&format!("/api/files/{sent_file}"), Auth::Bearer(&owner))
            .await;
        assert_eq!(r.status, 409, "{:?}", r.body);
    }
);

db_test!(edits_keep_or_drop_files_and_deletion_removes_them, |app| {
    let t = user_with_key(&app, "edit@example.com").await;
    let f = upload_ok(&app, &t, "keep.txt", b"kept words".to_vec()).await;
    let sent = app
        .send_body(&t, json!({"text": "first", "attachments": [f]}))
        .await;
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let thread = sent.thread_id();
    let question = sent.body["userMessage"]["id"].as_str().unwrap().to_string();
    app.answer(&t, &sent.answer_id()).await;
    // An edit without `attachments` keeps them.
    let r = app
        .post(
            "/api/chat/edit",
            json!({"messageId": question, "text": "second"}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["userMessage"]["attachments"][0]["name"], "keep.txt");
    app.answer(&t, r.body["assistantMessage"]["id"].as_str().unwrap())
        .await;
    assert!(last_question(&app).contains("kept words"));
    // With an empty list it drops them.
    let r = app
        .post(
            "/api/chat/edit",
            json!({"messageId": question, "text": "third", "attachments": []}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(r.body["userMessage"].get("attachments").is_none());
    app.answer(&t, r.body["assistantMessage"]["id"].as_str().unwrap())
        .await;
    assert!(!last_question(&app).contains("kept words"));
    // Regenerating the first answer replays its file.
    let r = app
        .post(
            "/api/chat/regenerate",
            json!({"messageId": sent.answer_id()}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    app.answer(&t, r.body["assistantMessage"]["id"].as_str().unwrap())
        .await;
    assert!(last_question(&app).contains("kept words"));
    assert_eq!(app.count("attachments").await, 2);
    assert_eq!(app.count("blobs").await, 1);
    // Deleting the thread takes its files and their blob.
    delete_leaves_no_file(&app, &t, &thread).await;
});

db_test!(uploads_never_sent_are_removed_after_a_day, |app| {
    let t = app.register("sweep@example.com").await;
    let old = upload_ok(&app, &t, "old.txt", b"old".to_vec()).await;
    let removed = upload_ok(&app, &t, "gone.txt", b"gone".to_vec()).await;
    // A chip removed from the composer.
    let r = app
        .delete(&format!("/api/files/{removed}"), Auth::Bearer(&t))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.get(&format!("/api/files/{removed}"), Auth::Bearer(&t))
            .await
            .status,
        404
    );
    assert_eq!(app.count("blobs").await, 1);
    // Not yet a day old: kept.
    assert_eq!(
        uploads::sweep_unsent(&app.db, app::server::db::now_ms())
            .await
            .unwrap(),
        0
    );
    let day_later = app::server::db::now_ms() + uploads::UNSENT_TTL_MS + 1;
    assert_eq!(uploads::sweep_unsent(&app.db, day_later).await.unwrap(), 1);
    let left = attachments::Entity::find()
        .filter(attachments::Column::Id.eq(old.as_str()))
        .one(&app.db)
        .await
        .unwrap();
    assert!(left.is_none());
    assert_eq!(app.count("blobs").await, 0);
});

db_test!(
    an_unreadable_document_is_a_sentence_and_nothing_is_stored,
    |app| {
        let t = user_with_key(&app, "corrupt@example.com").await;
        let broken = upload_ok(&app, &t, "broken.pdf", b"%PDF-1.4\nnot really".to_vec()).await;
        let before = app.count("messages").await;
        let sent = app
            .send_body(&t, json!({"text": "read", "attachments": [broken]}))
            .await;
        assert_eq!(sent.status, 422, "{:?}", sent.body);
        assert!(
            sent.error().contains("broken.pdf could not be read"),
            "{}",
            sent.error()
        );
        assert_eq!(app.count("messages").await, before);
        // Without a key there is nothing to read it with: a sentence, not a 500.
        let nokey = app.register("nokey@example.com").await;
        let f = upload_ok(&app, &nokey, "a.pdf", pdf_with_pages(&["x"])).await;
        let r = app
            .get(&format!("/api/files/{f}/text"), Auth::Bearer(&nokey))
            .await;
        assert!(r.status == 400 || r.status == 403, "{:?}", r.body);
        assert!(!r.error().is_empty());
    }
);

db_test!(sync_accepts_the_reference_clients_inline_files, |app| {
    use base64::Engine as _;
    let t = app.register("sync@example.com").await;
    let thread = app
        .post(
            "/api/thread",
            json!({"action": "create", "data": {"name": "Offline"}}),
            Auth::Bearer(&t),
        )
        .await
        .body["thread"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let png = png_with_text("synced");
    let inline = |bytes: &[u8], sha: &str| {
        json!({"fileName": "photo.png", "fileType": "text/html", "type": "image",
               "data": {"sha256": sha,
                        "data": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))}})
    };
    let good = app::server::crypto::sha256_hex(&png);
    let m = |id: &str, files: Value| json!({"idMessage": id, "idThread": thread, "role": "user", "text": "look", "date": 1_700_000_000_000i64, "attachments": files});
    let (ok, bad_hash, bad_type) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let r = app
        .post(
            "/api/thread",
            json!({"action": "sync", "messages": [
                m(&ok, json!([inline(&png, &good)])),
                m(&bad_hash, json!([inline(&png, &"0".repeat(64))])),
                m(&bad_type, json!([inline(&[0u8, 1, 2, 0], &app::server::crypto::sha256_hex(&[0u8, 1, 2, 0]))])),
            ]}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["inserted"], 1, "{:?}", r.body);
    let rejected = r.body["rejected"].to_string();
    assert!(
        rejected.contains(&bad_hash) && rejected.contains("sha256 does not match"),
        "{rejected}"
    );
    assert!(
        rejected.contains(&bad_type) && rejected.contains("unsupported type"),
        "{rejected}"
    );
    let r = app
        .get(&format!("/api/thread?idThread={thread}"), Auth::Bearer(&t))
        .await;
    let files = &r.body["messages"][0]["attachments"];
    assert_eq!(files[0]["name"], "photo.png", "{files}");
    assert_eq!(files[0]["mime"], "image/png", "the claim is not believed");
    let url = files[0]["url"].as_str().unwrap();
    let got = app
        .http
        .get(app.url(url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);
});

db_test_with!(
    a_message_carries_a_limited_number_and_size_of_files,
    |c| {
        c.max_attachments = 2;
        c.max_message_files_bytes = MB;
    },
    |app| {
        let t = user_with_key(&app, "many@example.com").await;
        let mut ids = vec![];
        for i in 0..3 {
            ids.push(
                upload_ok(
                    &app,
                    &t,
                    &format!("{i}.txt"),
                    format!("file {i}\n").into_bytes(),
                )
                .await,
            );
        }
        let sent = app
            .send_body(&t, json!({"text": "three", "attachments": ids}))
            .await;
        assert_eq!(sent.status, 413, "{:?}", sent.body);
        assert!(sent.error().contains("at most 2 files"), "{}", sent.error());
        let big = upload_ok(&app, &t, "a.txt", "a".repeat(600 * 1024).into_bytes()).await;
        let big2 = upload_ok(&app, &t, "b.txt", "b".repeat(600 * 1024).into_bytes()).await;
        let sent = app
            .send_body(&t, json!({"text": "two big", "attachments": [big, big2]}))
            .await;
        assert_eq!(sent.status, 413, "{:?}", sent.body);
        assert!(sent.error().contains("1 MB together"), "{}", sent.error());
        assert_eq!(app.count("messages").await, 0);
    }
);

db_test!(deleting_the_account_takes_every_file, |app| {
    let t = user_with_key(&app, "gone@example.com").await;
    let f = upload_ok(&app, &t, "doc.pdf", pdf_with_pages(&["one", "two"])).await;
    upload_ok(&app, &t, "unsent.txt", b"never sent".to_vec()).await;
    let sent = app
        .send_body(&t, json!({"text": "read", "attachments": [f]}))
        .await;
    app.answer(&t, &sent.answer_id()).await;
    assert_eq!(app.count("ocr_results").await, 1);
    let r = app
        .request(
            reqwest::Method::DELETE,
            "/api/auth/delete",
            Some(json!({"confirm": "gone@example.com"})),
            Auth::Bearer(&t),
            &[],
        )
        .await;
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    for table in ["attachments", "blobs", "ocr_results"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
});

db_test!(the_largest_file_allowed_is_stored_on_every_backend, |app| {
    // On MariaDB the limit follows `max_allowed_packet` (16 MiB by default):
    // a file the database could not store is a 413 naming the limit, never
    // a 500.
    let t = app.register("largest@example.com").await;
    let limits = app.get("/api/files/usage", Auth::Bearer(&t)).await;
    let most = limits.body["maxFileBytes"].as_u64().unwrap();
    assert!(most <= 20 * MB, "{most}");
    let r = upload(&app, &t, "max.txt", vec![b'a'; most as usize]).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["size"], most);
    let r = upload(&app, &t, "over.txt", vec![b'b'; most as usize + 1]).await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    assert!(r.error().contains("limit per file"), "{}", r.error());
});
