//! Portable column types.
//!
//! Identifiers are UUID strings (36 chars) and timestamps are Unix milliseconds
//! in a BIGINT: both sort and compare identically on every backend, which keeps
//! keyset pagination (`(updated_at, id)`) exact. Long texts need `MEDIUMTEXT` or
//! larger on MySQL (plain `TEXT` stops at 64 KiB), and blobs need `LONGBLOB`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

pub fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(36).not_null().to_owned()
}

pub fn id_pk<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(36)
        .not_null()
        .primary_key()
        .to_owned()
}

pub fn id_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(36).null().to_owned()
}

pub fn millis<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

pub fn millis_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
}

pub fn string<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().to_owned()
}

pub fn string_null<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).null().to_owned()
}

/// A text column that can hold at least 16 MiB on every backend.
pub fn long_text<T: IntoIden>(backend: DatabaseBackend, name: T, nullable: bool) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DatabaseBackend::MySql => col.custom(Alias::new("LONGTEXT")),
        _ => col.text(),
    };
    if nullable {
        col.null();
    } else {
        col.not_null();
    }
    col.to_owned()
}

/// Binary data up to 4 GiB on MySQL, unbounded on PostgreSQL and SQLite.
pub fn long_blob<T: IntoIden>(backend: DatabaseBackend, name: T) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    match backend {
        DatabaseBackend::MySql => col.custom(Alias::new("LONGBLOB")),
        _ => col.blob(),
    };
    col.not_null().to_owned()
}

pub fn int_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).integer().null().to_owned()
}
