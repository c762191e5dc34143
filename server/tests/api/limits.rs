//! What one person (or one odd upstream) can make the server do: concurrent
//! generations and event streams per user and in total, the daily budget on
//! the operator's key, generation deadlines, bounded error bodies, abandoned
//! `streaming` rows, deletions that stop running answers, and upstream values
//! that do not fit their columns.
use crate::chat::{id_in, row, user_with_key};
use crate::support::*;
use app::server::config::Secret;
use app::server::entities::messages;
use app::vocab::MessageId;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use testkit::mistral::FakeFailure;

const SERVER_KEY: &str = "sk-operator-key-5678";

/// Polls the row until its status is not `not` (at most `within`).
async fn wait_status(app: &TestApp, id: &str, not: &str, within: Duration) -> messages::Model {
    let start = Instant::now();
    loop {
        let m = row(app, id).await;
        if m.status != not {
            return m;
        }
        assert!(
            start.elapsed() < within,
            "message {id} stayed {not} for {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A slow answer: 40 tokens, 100 ms apart (4 s).
/// A streaming chat request (not a title or a catalogue fetch).
fn is_chat_request(r: &testkit::RecordedRequest) -> bool {
    r.path.ends_with("/chat/completions") && r.body["stream"] == true
}

fn slow(app: &TestApp) {
    app.mistral.configure(|c| {
        c.reply = Some("word ".repeat(40));
        c.token_delay = Duration::from_millis(100);
    });
}

#[tokio::test]
async fn concurrent_sends_beyond_the_per_user_cap_get_429_and_store_nothing() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.max_generations_per_user = 2)
        .await
        .unwrap();
    let t = user_with_key(&app, "cap@example.com").await;
    slow(&app);
    let texts: Vec<String> = (0..6).map(|i| format!("question {i}")).collect();
    let sends = texts.iter().map(|text| app.send(&t, text));
    let results = futures::future::join_all(sends).await;
    let accepted: Vec<&Sent> = results.iter().filter(|r| r.status == 201).collect();
    let refused: Vec<&Sent> = results.iter().filter(|r| r.status == 429).collect();
    assert_eq!(
        (accepted.len(), refused.len()),
        (2, 4),
        "{:?}",
        results
            .iter()
            .map(|r| (r.status, r.error()))
            .collect::<Vec<_>>()
    );
    for r in &refused {
        assert_eq!(
            r.error(),
            "You already have 2 answers being written — wait for one to finish or stop it"
        );
        assert!(r.headers.contains_key("retry-after"));
    }
    assert_eq!(app.count("threads").await, 2, "refused sends store nothing");
    assert_eq!(app.count("messages").await, 4);

    // Regenerating and editing count too.
    let first = &accepted[0].body;
    let a = id_in(first, "assistantMessage");
    let q = id_in(first, "userMessage");
    let r = app
        .post(
            "/api/chat/regenerate",
            json!({"messageId": a}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);
    let r = app
        .post(
            "/api/chat/edit",
            json!({"messageId": q, "text": "again"}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 429, "{:?}", r.body);

    // Stopping one frees its place at once.
    let r = app
        .post(
            &format!("/api/generations/{a}/stop"),
            json!({}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.send(&t, "now it fits").await.status, 201);
    // Another user is not affected by this one's cap.
    let other = user_with_key(&app, "other@example.com").await;
    assert_eq!(app.send(&other, "mine").await.status, 201);
}

#[tokio::test]
async fn the_server_wide_cap_answers_503() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.max_generations_total = 1)
        .await
        .unwrap();
    let a = user_with_key(&app, "first@example.com").await;
    let b = user_with_key(&app, "second@example.com").await;
    slow(&app);
    let r = app.send(&a, "slow one").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app.send(&b, "no room").await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert!(r.error().contains("try again"), "{}", r.error());
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(app.count("threads").await, 1);
}

/// Opens the event stream of `id`: its status.
async fn open(app: &TestApp, t: &str, id: &str) -> (u16, Option<SseReader>) {
    SseReader::open(app, &format!("/api/generations/{id}/events"), t, None).await
}

#[tokio::test]
async fn open_event_streams_are_capped_and_given_back_on_disconnect() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.max_streams_per_user = 2;
        c.max_streams_total = 3;
    })
    .await
    .unwrap();
    let t = user_with_key(&app, "streams@example.com").await;
    slow(&app);
    let r = app.send(&t, "long").await;
    let a = id_in(&r.body, "assistantMessage");
    let (s1, r1) = open(&app, &t, &a).await;
    let (s2, r2) = open(&app, &t, &a).await;
    assert_eq!((s1, s2), (200, 200));
    let r3 = app
        .get(&format!("/api/generations/{a}/events"), Auth::Bearer(&t))
        .await;
    assert_eq!(r3.status, 429, "{:?}", r3.body);
    assert!(
        r3.error().contains("2 live answer streams"),
        "{}",
        r3.error()
    );

    // The server-wide cap: one more reader from someone else fits, then none.
    let other = user_with_key(&app, "other-streams@example.com").await;
    app.mistral.configure(|c| c.token_delay = Duration::ZERO);
    let o = app.send(&other, "quick").await.answer_id();
    wait_status(&app, &o, "streaming", Duration::from_secs(5)).await;
    app.mistral
        .configure(|c| c.token_delay = Duration::from_millis(100));
    let o2 = app.send(&other, "slow").await.answer_id();
    let (s, _held) = open(&app, &other, &o2).await;
    assert_eq!(s, 200);
    let full = app
        .get(
            &format!("/api/generations/{o}/events"),
            Auth::Bearer(&other),
        )
        .await;
    assert_eq!(full.status, 503, "{:?}", full.body);

    // A reader that goes away gives its place back.
    drop(r1);
    let start = Instant::now();
    loop {
        let (s, reader) = open(&app, &t, &a).await;
        if s == 200 {
            drop(reader);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A stream that ends (the answer is done) gives its place back too.
    let (_, _, done, _) = r2.unwrap().collect().await;
    assert_eq!(done["status"], "done");
    let start = Instant::now();
    let mut readers = vec![];
    while readers.len() < 2 {
        let (s, reader) = open(&app, &t, &a).await;
        match s {
            200 => readers.push(reader),
            _ => {
                assert!(start.elapsed() < Duration::from_secs(5), "places leaked");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn settings(app: &TestApp, t: &str) -> Value {
    let r = app.get("/api/settings", Auth::Bearer(t)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

db_test_with!(
    the_server_key_has_a_daily_budget_per_user,
    |c| {
        c.allow_server_key = true;
        c.mistral_api_key = Some(Secret::new(SERVER_KEY));
        c.server_key_daily_requests = 2;
    },
    |app| {
        let t = app.register("budget@example.com").await;
        assert_eq!(
            settings(&app, &t).await["serverKeyBudget"],
            json!({"used": 0, "limit": 2})
        );
        let mut threads = vec![];
        for i in 0..2 {
            let r = app.send(&t, &format!("on the house {i}")).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            let a = id_in(&r.body, "assistantMessage");
            wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
            threads.push(id_in(&r.body, "thread"));
        }
        assert_eq!(
            app.mistral.last_request().unwrap().api_key.as_deref(),
            Some(SERVER_KEY)
        );
        let r = app.send(&t, "one more").await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert!(
            r.error()
                .starts_with("You have used today's 2 answers on the server's key"),
            "{}",
            r.error()
        );
        assert!(r.headers.contains_key("retry-after"));
        assert_eq!(
            app.count("threads").await,
            2,
            "a refused send stores nothing"
        );
        // Regenerating is an answer too.
        let r = app
            .post(
                "/api/chat/regenerate",
                json!({"messageId": row_of_thread(&app, &threads[0]).await}),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(r.status, 429, "{:?}", r.body);
        assert_eq!(
            settings(&app, &t).await["serverKeyBudget"],
            json!({"used": 2, "limit": 2})
        );
        // Deleting the conversations does not give the budget back.
        for id in &threads {
            let r = app
                .post(
                    "/api/thread",
                    json!({"action": "delete", "idThread": id}),
                    Auth::Bearer(&t),
                )
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        assert_eq!(app.send(&t, "after deleting").await.status, 429);

        // Another user has their own budget; a user with their own key has none.
        let u = app.register("fresh@example.com").await;
        assert_eq!(app.send(&u, "mine").await.status, 201);
        let own = user_with_key(&app, "own@example.com").await;
        assert_eq!(settings(&app, &own).await["serverKeyBudget"], Value::Null);
        for i in 0..3 {
            let r = app.send(&own, &format!("own key {i}")).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            let a = id_in(&r.body, "assistantMessage");
            wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
        }
    }
);

/// The assistant message of a thread.
async fn row_of_thread(app: &TestApp, thread_id: &str) -> String {
    messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread_id))
        .filter(messages::Column::Role.eq("assistant"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn without_a_budget_the_server_key_is_unlimited() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.allow_server_key = true;
        c.mistral_api_key = Some(Secret::new(SERVER_KEY));
    })
    .await
    .unwrap();
    let t = app.register("free@example.com").await;
    assert_eq!(settings(&app, &t).await["serverKeyBudget"], Value::Null);
    for i in 0..3 {
        let r = app.send(&t, &format!("free {i}")).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let a = id_in(&r.body, "assistantMessage");
        wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn a_silent_upstream_hits_the_idle_deadline() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.generation_idle_timeout_secs = 1)
        .await
        .unwrap();
    let t = user_with_key(&app, "idle@example.com").await;
    app.mistral
        .configure(|c| c.stall = Some((2, Duration::from_secs(20))));
    let started = Instant::now();
    let r = app.send(&t, "then silence").await;
    let a = id_in(&r.body, "assistantMessage");
    let m = wait_status(&app, &a, "streaming", Duration::from_secs(6)).await;
    assert_eq!(m.status, "interrupted");
    assert_eq!(
        m.error.as_deref(),
        Some("Mistral sent nothing for 1 second and the answer was interrupted")
    );
    assert!(!m.text.is_empty(), "the partial answer is kept");
    assert!(started.elapsed() < Duration::from_secs(6));
    // Its place is free again.
    app.mistral.configure(|c| c.stall = None);
    let r = app.send(&t, "next").await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn a_generation_has_an_overall_deadline() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.generation_timeout_secs = 1)
        .await
        .unwrap();
    let t = user_with_key(&app, "overall@example.com").await;
    slow(&app);
    let r = app.send(&t, "a long one").await;
    let a = id_in(&r.body, "assistantMessage");
    let (_, sse) = open(&app, &t, &a).await;
    let (text, _, done, _) = sse.unwrap().collect().await;
    assert_eq!(done["status"], "interrupted");
    assert_eq!(
        done["error"],
        "The answer took longer than 1 second and was stopped"
    );
    let m = wait_status(&app, &a, "streaming", Duration::from_secs(3)).await;
    assert_eq!(m.status, "interrupted");
    assert_eq!(m.text, text);
    assert!(m.text.len() < "word ".repeat(40).len());
}

#[tokio::test]
async fn an_endless_error_body_ends_the_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "endless@example.com").await;
    app.mistral.fail(FakeFailure::EndlessErrorBody {
        status: 400,
        piece_every: Duration::ZERO,
    });
    let r = app.send(&t, "hello?").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let a = id_in(&r.body, "assistantMessage");
    let m = wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
    assert_eq!(m.status, "error");
    let error = m.error.unwrap_or_default();
    assert!(error.starts_with("Mistral rejected the request"), "{error}");
    assert!(error.chars().count() < 400, "{error}");
}

db_test!(
    an_abandoned_streaming_row_is_interrupted_for_its_readers,
    |app| {
        let t = user_with_key(&app, "abandoned@example.com").await;
        let r = app.send(&t, "finish quickly").await;
        let a = id_in(&r.body, "assistantMessage");
        let done = wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
        // What a replica that died mid-answer leaves behind: `streaming`, not
        // touched for an hour, and no task anywhere.
        messages::Entity::update_many()
            .col_expr(messages::Column::Status, Expr::value("streaming"))
            .col_expr(
                messages::Column::UpdatedAt,
                Expr::value(done.updated_at - 3_600_000),
            )
            .filter(messages::Column::Id.eq(a.as_str()))
            .exec(&app.db)
            .await
            .unwrap();
        let (status, sse) = open(&app, &t, &a).await;
        assert_eq!(status, 200);
        let (text, _, done_ev, _) = sse.unwrap().collect().await;
        assert_eq!(done_ev["status"], "interrupted");
        assert_eq!(text, done.text, "the partial answer is kept");
        let m = row(&app, &a).await;
        assert_eq!(m.status, "interrupted");
        assert_eq!(
            m.error.as_deref(),
            Some("The answer stopped arriving and was interrupted")
        );

        // A row another replica is still writing keeps being followed.
        messages::Entity::update_many()
            .col_expr(messages::Column::Status, Expr::value("streaming"))
            .col_expr(
                messages::Column::UpdatedAt,
                Expr::value(app::server::db::now_ms()),
            )
            .filter(messages::Column::Id.eq(a.as_str()))
            .exec(&app.db)
            .await
            .unwrap();
        let (_, sse) = open(&app, &t, &a).await;
        let mut sse = sse.unwrap();
        let first = sse.next().await.unwrap();
        assert_eq!(first.event, "snapshot");
        assert_eq!(first.data["status"], "streaming");
        // Barrier, not a sleep: the reader re-reads the row once a second
        // and sends it again; after that poll it must still be followed.
        let polled = sse.next().await.expect("the reader polls the row");
        assert_eq!(polled.event, "snapshot");
        assert_eq!(polled.data["status"], "streaming");
        assert_eq!(row(&app, &a).await.status, "streaming", "not abandoned yet");
        messages::Entity::update_many()
            .col_expr(messages::Column::Status, Expr::value("done"))
            .filter(messages::Column::Id.eq(a.as_str()))
            .exec(&app.db)
            .await
            .unwrap();
        let (_, _, done_ev, _) = sse.collect().await;
        assert_eq!(done_ev["status"], "done");
    }
);

#[tokio::test]
async fn deleting_a_thread_stops_its_answer_first() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.max_generations_per_user = 1)
        .await
        .unwrap();
    let t = user_with_key(&app, "delthread@example.com").await;
    slow(&app);
    let r = app.send(&t, "long answer").await;
    let (a, tid) = (r.answer_id(), r.thread_id());
    // Barrier, not a sleep: the upstream call is under way.
    app.upstream_received(1, is_chat_request).await;
    assert!(
        app.state.hub.get(&MessageId::new(&a)).is_some(),
        "still being written"
    );
    let r = app
        .post(
            "/api/thread",
            json!({"action": "delete", "idThread": tid}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        app.state.hub.get(&MessageId::new(&a)).is_none(),
        "the answer was stopped"
    );
    assert_eq!(app.count("messages").await, 0);
    // Its place is free at once.
    let r = app.send(&t, "a new one").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn deleting_someone_elses_thread_stops_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let owner = user_with_key(&app, "owner@example.com").await;
    let stranger = user_with_key(&app, "stranger@example.com").await;
    slow(&app);
    let r = app.send(&owner, "mine").await;
    let a = id_in(&r.body, "assistantMessage");
    let tid = id_in(&r.body, "thread");
    let r = app
        .post(
            "/api/thread",
            json!({"action": "delete", "idThread": tid}),
            Auth::Bearer(&stranger),
        )
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert!(
        app.state.hub.get(&MessageId::new(&a)).is_some(),
        "still being written"
    );
}

#[tokio::test]
async fn deleting_an_account_stops_its_answers_first() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let t = user_with_key(&app, "delaccount@example.com").await;
    slow(&app);
    let a1 = app.send(&t, "one").await.answer_id();
    let a2 = app.send(&t, "two").await.answer_id();
    // Barrier, not a sleep: both upstream calls are under way.
    app.upstream_received(2, is_chat_request).await;
    assert!(
        app.state.hub.get(&MessageId::new(&a1)).is_some()
            && app.state.hub.get(&MessageId::new(&a2)).is_some()
    );
    let r = app
        .delete(
            "/api/auth/delete?confirm=delaccount%40example.com",
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        app.state.hub.get(&MessageId::new(&a1)).is_none()
            && app.state.hub.get(&MessageId::new(&a2)).is_none()
    );
    assert_eq!(app.count("messages").await, 0);
}

db_test!(odd_upstream_values_never_leave_a_row_streaming, |app| {
    let t = user_with_key(&app, "odd@example.com").await;
    let long_reason = format!("{}\0end", "x".repeat(1000));
    app.mistral.configure(|c| {
        c.reply = Some("Hel\0lo wor\0ld".into());
        c.thinking = Some("Thin\0king".into());
        c.finish_reason = Some(long_reason.clone());
    });
    let r = app
        .post(
            "/api/chat",
            json!({"text": "Odd", "model": "magistral-medium-latest"}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let a = id_in(&r.body, "assistantMessage");
    let (_, sse) = open(&app, &t, &a).await;
    let (text, thinking, done, _) = sse.unwrap().collect().await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(
        (text.as_str(), thinking.as_str()),
        ("Hello world", "Thinking")
    );
    let m = wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
    assert_eq!(m.status, "done");
    assert_eq!(m.text, "Hello world");
    assert_eq!(m.thinking.as_deref(), Some("Thinking"));
    assert_eq!(m.finish_reason.as_deref(), Some(&"x".repeat(32)[..]));
    assert_eq!(done["finishReason"], "x".repeat(32));
});

db_test!(nul_in_what_people_send_is_dropped_or_refused, |app| {
    let t = user_with_key(&app, "nul@example.com").await;
    let r = app.send(&t, "Hi\0 there").await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["userMessage"]["text"], "Hi there");
    let a = id_in(&r.body, "assistantMessage");
    let m = wait_status(&app, &a, "streaming", Duration::from_secs(5)).await;
    assert_eq!(m.status, "done");
    let r = app
        .post(
            "/api/chat",
            json!({"text": "Hi", "model": "mistral\0small"}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.error(),
        "model: use a model id of at most 100 characters, without spaces"
    );
});
