use crate::vocab::{MessageStatus, Role};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub thread_id: String,
    /// The previous message on this branch; siblings share a parent.
    pub parent_id: Option<String>,
    pub role: Role,
    pub text: String,
    pub thinking: Option<String>,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub error: Option<String>,
    /// JSON array of citations (web search), when any.
    pub sources: Option<String>,
    pub thinking_ms: Option<i32>,
    /// A question said in a voice call (null: typed).
    pub spoken: Option<bool>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// A new message row: no answer metadata yet, created and updated at `at`.
    pub fn new_row(
        thread_id: &str,
        parent_id: Option<String>,
        role: Role,
        text: String,
        status: MessageStatus,
        at: i64,
    ) -> Model {
        Model {
            id: uuid::Uuid::new_v4().to_string(),
            thread_id: thread_id.to_string(),
            parent_id,
            role,
            text,
            thinking: None,
            status,
            model: None,
            finish_reason: None,
            prompt_tokens: None,
            completion_tokens: None,
            error: None,
            sources: None,
            thinking_ms: None,
            spoken: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// Every column set, for an insert.
    pub fn into_insert(self) -> ActiveModel {
        use sea_orm::IntoActiveModel;
        self.into_active_model().reset_all()
    }
}
