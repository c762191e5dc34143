//! One chat message as shown in a thread or on a shared page. Text is always
//! rendered as text (never as HTML).
use crate::model::MessageDto;
use leptos::prelude::*;

/// The messages of the active branch: from the root, at each step the most
/// recent child (siblings are edits and regenerations).
pub fn active_branch(messages: &[MessageDto]) -> Vec<MessageDto> {
    let mut out = vec![];
    let ids: std::collections::HashSet<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    // Roots: no parent, or a parent outside the loaded page.
    let latest_child = |parent: Option<&str>| {
        messages
            .iter()
            .filter(|m| match (m.parent_id.as_deref(), parent) {
                (Some(p), Some(q)) => p == q,
                (None, None) => true,
                (Some(p), None) => !ids.contains(p),
                (None, Some(_)) => false,
            })
            .max_by_key(|m| (m.created_at, m.id.clone()))
    };
    let mut current = latest_child(None);
    while let Some(m) = current {
        out.push(m.clone());
        current = latest_child(Some(m.id.as_str()));
        if out.len() > messages.len() {
            break;
        }
    }
    out
}

#[component]
pub fn MessageView(message: MessageDto) -> impl IntoView {
    let role = message.role.clone();
    let status_note = match message.status.as_str() {
        "interrupted" => Some("The answer was interrupted."),
        "stopped" => Some("Stopped."),
        "error" => Some("The answer failed."),
        _ => None,
    };
    let label = if role == "user" { "You" } else { "Assistant" };
    view! {
        <article class=format!("message message-{role}") data-testid="message" data-role=role.clone() tabindex="-1">
            <h3 class="visually-hidden">{label}</h3>
            {message.thinking.clone().filter(|t| !t.is_empty()).map(|t| view! {
                <details class="thoughts"><summary>"Thoughts"</summary><div class="thoughts-body">{t}</div></details>
            })}
            <div class="message-body">{message.text.clone()}</div>
            {message.error.clone().map(|e| view! { <p class="form-error">{e}</p> })}
            {status_note.map(|n| view! { <p class="message-status muted">{n}</p> })}
        </article>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, parent: Option<&str>, at: i64) -> MessageDto {
        MessageDto {
            id: id.into(),
            id_thread: "t".into(),
            parent_id: parent.map(str::to_string),
            role: "user".into(),
            text: id.into(),
            thinking: None,
            status: "done".into(),
            model: None,
            created_at: at,
            updated_at: at,
            finish_reason: None,
            prompt_tokens: None,
            completion_tokens: None,
            error: None,
        }
    }

    #[test]
    fn follows_the_latest_sibling() {
        let msgs = vec![
            m("a", None, 1),
            m("b1", Some("a"), 2),
            m("b2", Some("a"), 5),
            m("c1", Some("b1"), 3),
            m("c2", Some("b2"), 6),
        ];
        let ids: Vec<_> = active_branch(&msgs).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["a", "b2", "c2"]);
    }

    #[test]
    fn a_page_without_its_root_starts_at_the_oldest_loaded() {
        let msgs = vec![m("x", Some("gone"), 10), m("y", Some("x"), 11)];
        let ids: Vec<_> = active_branch(&msgs).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["x", "y"]);
    }
}
