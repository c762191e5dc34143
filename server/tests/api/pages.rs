//! Server-rendered pages under concurrent requests. A page's `<title>` is
//! read after its body has rendered; a title that follows a reactive value
//! (the sign-in page's mode, a thread's name) must still be there then. A CI
//! run saw `/login` answer with a panic ("Tried to access a reactive value
//! that has already been disposed") from the title, once, under load; many
//! renders at once make that ordering likely enough to catch.
//!
//! leptos_meta writes the title into the HTML as it is, so the app escapes
//! it: a thread's name is what its owner (or the model) wrote, and the shared
//! page shows it to strangers.
use crate::support::*;
use serde_json::json;

/// The text of the page's `<title>`, if it has one.
fn title_of(r: &Resp) -> Option<String> {
    let html = r.body.as_str()?;
    let start = html.find("<title>")? + "<title>".len();
    let end = html[start..].find("</title>")? + start;
    Some(html[start..end].to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_their_titles_under_concurrent_requests() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let t = app.register("titles@example.com").await;
    // One thread action of the JSON API as `t`; its answer's body.
    let act = |body: serde_json::Value| {
        let app = &app;
        let t = &t;
        async move {
            let r = app.post("/api/thread", body, Auth::Bearer(t)).await;
            assert!(matches!(r.status, 200 | 201), "{}: {:?}", r.status, r.body);
            r.body
        }
    };
    let created = act(json!({"action": "create", "data": {}})).await;
    let id = created["thread"]["id"].as_str().unwrap().to_string();
    let hostile = "Tides & moons</title><script>alert(1)</script>";
    act(json!({"action": "update", "idThread": id, "data": {"name": hostile}})).await;
    act(json!({"action": "sync", "messages": [{
        "idMessage": uuid::Uuid::new_v4().to_string(), "idThread": id,
        "role": "user", "text": "hi", "date": 1_000,
    }]}))
    .await;
    let shared = act(json!({"action": "share", "idThread": id})).await;
    let shared_path = format!("/s/{}", shared["shareCode"].as_str().unwrap());
    let escaped =
        "Tides &amp; moons&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; · MistralChat";

    let thread_path = format!("/t/{id}");
    // The thread page streams its messages (out of order): its head is sent
    // before the thread is read, so its title is set in the browser.
    let cases: [(&str, Auth<'_>, Option<&str>); 4] = [
        (
            "/login?mode=register",
            Auth::None,
            Some("Create account · MistralChat"),
        ),
        ("/login", Auth::None, Some("Sign in · MistralChat")),
        (&thread_path, Auth::Cookie(&t), None),
        (&shared_path, Auth::None, Some(escaped)),
    ];
    for round in 0..4 {
        let requests = (0..24).map(|i| {
            let (path, auth, _) = cases[i % cases.len()];
            let app = &app;
            async move { (i, app.get(path, auth).await) }
        });
        for (i, r) in futures::future::join_all(requests).await {
            let (path, _, want) = cases[i % cases.len()];
            assert_eq!(
                r.status, 200,
                "round {round}: GET {path} answered {}",
                r.status
            );
            assert_eq!(title_of(&r).as_deref(), want, "round {round}: GET {path}");
            let html = r.body.as_str().unwrap();
            assert!(
                !html.contains("<script>alert(1)"),
                "GET {path} carries the name's markup"
            );
        }
    }
}
