use crate::vocab::Provider;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub email: Option<String>,
    pub name: String,
    pub picture: Option<String>,
    pub provider: Provider,
    pub google_sub: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Last activity (refreshed at most hourly for guests); the retention
    /// job deletes guests idle longer than `GUEST_TTL_DAYS`.
    pub last_seen_at: Option<i64>,
    /// The address a guest was created from: its answers on the server's
    /// key count against that address's daily quota.
    pub guest_ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
