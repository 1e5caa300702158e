//! The types `parquet.thrift` declares for the fields of a Parquet footer and page header, as
//! the `parquet` crate (60) reads them. The crate picks a field by its id and reads it as the
//! declared type whatever type code the bytes carry (an i32 from any varint, a struct's bytes
//! as an i32, …), so a footer whose codes disagree with the declarations is read one way by a
//! walker that trusts the codes and another way by the crate: counts the walk bounded are not
//! the counts the crate allocates from (the fuzzer's sixth finding, docs/RELIABILITY.md).
//! [`declared`] gives the walker the crate's view; a field whose code disagrees is refused.
//! Fields the crate does not know it skips by their code, as the walker does.

/// A struct of the footer or a page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    FileMetaData,
    /// An element of a schema of this many elements.
    SchemaElement(u64),
    RowGroup,
    ColumnChunk,
    ColumnMetaData,
    Statistics,
    KeyValue,
    SortingColumn,
    PageEncodingStats,
    SizeStatistics,
    /// A union of empty structs, of which the crate knows one (`TypeDefinedOrder`, field 1).
    ColumnOrder,
    /// `TypeDefinedOrder` and `IndexPageHeader`: empty; one with a field is refused.
    Empty,
    /// A struct in a field the crate does not know (and skips).
    Unknown,
    PageHeader,
    DataPageHeader,
    DataPageHeaderV2,
    DictionaryPageHeader,
}

/// Thrift compact type codes.
pub(crate) const BOOL_TRUE: u8 = 1;
pub(crate) const BOOL_FALSE: u8 = 2;
pub(crate) const I16: u8 = 4;
pub(crate) const I32: u8 = 5;
pub(crate) const I64: u8 = 6;
pub(crate) const BINARY: u8 = 8;
pub(crate) const LIST: u8 = 9;
pub(crate) const STRUCT: u8 = 12;

/// What a list holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Element {
    Scalar(u8),
    Struct(Kind),
    /// `FileMetaData.schema`: its elements are walked knowing the schema's length.
    Schema,
}

/// A field's declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Declared {
    Bool,
    Scalar(u8),
    Struct(Kind),
    List(Element),
    /// A field adalens' files never have and the walk does not follow (logical types,
    /// encryption, geospatial statistics): the file is refused.
    Unread(&'static str),
}

impl Declared {
    /// Whether the type code `t` is what the crate will read.
    pub(crate) fn accepts(self, t: u8) -> bool {
        match self {
            Declared::Bool => t == BOOL_TRUE || t == BOOL_FALSE,
            Declared::Scalar(code) => t == code,
            Declared::Struct(_) => t == STRUCT,
            Declared::List(_) => t == LIST,
            Declared::Unread(_) => false,
        }
    }
}

/// The declared type of field `id` of `kind`, or `None` for a field the crate does not know.
pub(crate) fn declared(kind: Kind, id: i64) -> Option<Declared> {
    use Declared::*;
    use Element as E;
    let list = |e| Some(List(e));
    match (kind, id) {
        (Kind::FileMetaData, 1) => Some(Scalar(I32)),
        (Kind::FileMetaData, 2) => list(E::Schema),
        (Kind::FileMetaData, 3) => Some(Scalar(I64)),
        (Kind::FileMetaData, 4) => list(E::Struct(Kind::RowGroup)),
        (Kind::FileMetaData, 5) => list(E::Struct(Kind::KeyValue)),
        (Kind::FileMetaData, 6) => Some(Scalar(BINARY)),
        (Kind::FileMetaData, 7) => list(E::Struct(Kind::ColumnOrder)),
        (Kind::FileMetaData, 8) => Some(Unread("an encryption algorithm")),
        (Kind::FileMetaData, 9) => Some(Scalar(BINARY)),
        (Kind::SchemaElement(_), 1..=3 | 5..=9) => Some(Scalar(I32)),
        (Kind::SchemaElement(_), 4) => Some(Scalar(BINARY)),
        (Kind::SchemaElement(_), 10) => Some(Unread("a logical type")),
        (Kind::RowGroup, 1) => list(E::Struct(Kind::ColumnChunk)),
        (Kind::RowGroup, 2 | 3 | 5 | 6) => Some(Scalar(I64)),
        (Kind::RowGroup, 4) => list(E::Struct(Kind::SortingColumn)),
        (Kind::RowGroup, 7) => Some(Scalar(I16)),
        (Kind::ColumnChunk, 1 | 9) => Some(Scalar(BINARY)),
        (Kind::ColumnChunk, 2 | 4 | 6) => Some(Scalar(I64)),
        (Kind::ColumnChunk, 3) => Some(Struct(Kind::ColumnMetaData)),
        (Kind::ColumnChunk, 5 | 7) => Some(Scalar(I32)),
        (Kind::ColumnChunk, 8) => Some(Unread("column encryption")),
        (Kind::ColumnMetaData, 1 | 4 | 15) => Some(Scalar(I32)),
        (Kind::ColumnMetaData, 2) => list(E::Scalar(I32)),
        (Kind::ColumnMetaData, 3) => list(E::Scalar(BINARY)),
        (Kind::ColumnMetaData, 5..=7 | 9..=11 | 14) => Some(Scalar(I64)),
        (Kind::ColumnMetaData, 8) => list(E::Struct(Kind::KeyValue)),
        (Kind::ColumnMetaData, 12) => Some(Struct(Kind::Statistics)),
        (Kind::ColumnMetaData, 13) => list(E::Struct(Kind::PageEncodingStats)),
        (Kind::ColumnMetaData, 16) => Some(Struct(Kind::SizeStatistics)),
        (Kind::ColumnMetaData, 17) => Some(Unread("geospatial statistics")),
        (Kind::Statistics, 1 | 2 | 5 | 6) => Some(Scalar(BINARY)),
        (Kind::Statistics, 3 | 4 | 9) => Some(Scalar(I64)),
        (Kind::Statistics, 7 | 8) => Some(Bool),
        (Kind::ColumnOrder, 1) => Some(Struct(Kind::Empty)),
        (Kind::KeyValue, 1 | 2) => Some(Scalar(BINARY)),
        (Kind::SortingColumn, 1) => Some(Scalar(I32)),
        (Kind::SortingColumn, 2 | 3) => Some(Bool),
        (Kind::PageEncodingStats, 1..=3) => Some(Scalar(I32)),
        (Kind::SizeStatistics, 1) => Some(Scalar(I64)),
        (Kind::SizeStatistics, 2 | 3) => list(E::Scalar(I64)),
        (Kind::PageHeader, 1..=4) => Some(Scalar(I32)),
        (Kind::PageHeader, 5) => Some(Struct(Kind::DataPageHeader)),
        (Kind::PageHeader, 6) => Some(Struct(Kind::Empty)),
        (Kind::PageHeader, 7) => Some(Struct(Kind::DictionaryPageHeader)),
        (Kind::PageHeader, 8) => Some(Struct(Kind::DataPageHeaderV2)),
        (Kind::DataPageHeader, 1..=4) => Some(Scalar(I32)),
        (Kind::DataPageHeader, 5) => Some(Struct(Kind::Statistics)),
        (Kind::DataPageHeaderV2, 1..=6) => Some(Scalar(I32)),
        (Kind::DataPageHeaderV2, 7) => Some(Bool),
        (Kind::DataPageHeaderV2, 8) => Some(Struct(Kind::Statistics)),
        (Kind::DictionaryPageHeader, 1 | 2) => Some(Scalar(I32)),
        (Kind::DictionaryPageHeader, 3) => Some(Bool),
        _ => None,
    }
}
