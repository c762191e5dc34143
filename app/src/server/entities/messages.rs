use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub thread_id: String,
    /// The previous message on this branch; siblings share a parent.
    pub parent_id: Option<String>,
    pub role: String,
    pub text: String,
    pub thinking: Option<String>,
    /// done | streaming | stopped | interrupted | error
    pub status: String,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    pub error: Option<String>,
    /// JSON array of citations (web search), when any.
    pub sources: Option<String>,
    pub thinking_ms: Option<i32>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
