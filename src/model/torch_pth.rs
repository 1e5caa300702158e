//! Reading what `torch.save` writes without running any of it: the restricted pickle parse
//! (`super::unpickle`, which builds plain values and never imports or calls anything), the
//! allow-list of the callables a checkpoint may name — a file that asks for `os.system` or
//! `builtins.eval` anywhere in its pickle is refused with that name — the tensors the pickle
//! describes, and decoding of their storages with any element type, offset and strides, every
//! count and offset checked against the storage before anything is allocated.

use super::torch_zip::Archive;
pub(crate) use super::unpickle::PickleError;
use super::unpickle::{Node, NodeId, Pickle};

/// Refuse tensors larger than this many elements (a damaged header must not allocate wildly).
pub(crate) const MAX_ELEMENTS: usize = 1 << 31;
/// A tensor may have more elements than its storage only by broadcasting (stride 0); up to
/// this many, so a few bytes of storage cannot expand into gigabytes.
const MAX_EXPANDED_ELEMENTS: usize = 1 << 24;
/// More dimensions than any tensor has.
const MAX_DIMS: usize = 16;
/// How deeply tensor rebuilds may wrap each other (`Parameter(_rebuild_tensor_v2(…))`).
const MAX_WRAPPING: usize = 8;

/// Why a tensor could not be read.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// The storage entry is missing or damaged.
    Archive(String),
    /// Shape, strides or element type do not fit the storage.
    Layout(String),
}

/// A storage's element type, from its torch class name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Elem {
    fn from_storage(class: &str) -> Option<Elem> {
        Some(match class {
            "FloatStorage" => Elem::F32,
            "DoubleStorage" => Elem::F64,
            "HalfStorage" => Elem::F16,
            "BFloat16Storage" => Elem::BF16,
            "LongStorage" => Elem::I64,
            "IntStorage" => Elem::I32,
            "ShortStorage" => Elem::I16,
            "CharStorage" => Elem::I8,
            "ByteStorage" => Elem::U8,
            "BoolStorage" => Elem::Bool,
            _ => return None,
        })
    }

    pub(crate) fn size(self) -> usize {
        match self {
            Elem::F64 | Elem::I64 => 8,
            Elem::F32 | Elem::I32 => 4,
            Elem::F16 | Elem::BF16 | Elem::I16 => 2,
            Elem::I8 | Elem::U8 | Elem::Bool => 1,
        }
    }

    pub(crate) fn is_float(self) -> bool {
        matches!(self, Elem::F32 | Elem::F64 | Elem::F16 | Elem::BF16)
    }
}

/// A tensor the pickle describes: a view (`dims`, `strides`, `offset`, in elements) of the
/// storage at `path` in the archive, which holds `storage_numel` elements of `elem`.
#[derive(Debug, Clone)]
pub(crate) struct TensorRef {
    pub name: String,
    pub elem: Elem,
    pub dims: Vec<usize>,
    pub strides: Vec<usize>,
    pub offset: usize,
    pub path: String,
    pub storage_numel: usize,
}

/// `None` when `bytes` start like a zip archive, else a hint of what the file is.
pub(crate) fn not_zip_hint(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(b"PK\x03\x04") {
        return None;
    }
    let head = &bytes[..bytes.len().min(64)];
    Some(if head.is_empty() {
        "the file is empty".to_string()
    } else if head[0] == 0x80 {
        "this looks like the legacy (pre-1.6) torch format; re-save it with a current torch".into()
    } else if std::str::from_utf8(head).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || c.is_ascii_whitespace())
    }) {
        "the file looks like text".into()
    } else {
        format!("unknown leading bytes {:02x?}", &head[..head.len().min(4)])
    })
}

/// The callables a checkpoint may name (those torch's own `weights_only` loader accepts, plus
/// what training scripts commonly save beside the weights). Nothing is ever called; naming
/// anything else refuses the file, since under `torch.load` it could run code.
fn allowed(module: &str, name: &str) -> bool {
    match module {
        "collections" => matches!(name, "OrderedDict" | "defaultdict"),
        "torch._utils" => matches!(
            name,
            "_rebuild_tensor"
                | "_rebuild_tensor_v2"
                | "_rebuild_tensor_v3"
                | "_rebuild_parameter"
                | "_rebuild_parameter_with_state"
                | "_rebuild_qtensor"
                | "_rebuild_sparse_tensor"
                | "_rebuild_nested_tensor"
                | "_rebuild_meta_tensor_no_storage"
                | "_rebuild_device_tensor_from_numpy"
        ),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch" => {
            name.ends_with("Storage")
                || matches!(
                    name,
                    "Size"
                        | "Tensor"
                        | "device"
                        | "float32"
                        | "float64"
                        | "float16"
                        | "bfloat16"
                        | "int64"
                        | "int32"
                        | "int16"
                        | "int8"
                        | "uint8"
                        | "bool"
                )
        }
        "torch.serialization" => name == "_get_layout",
        "torch.nn.parameter" => name == "Parameter",
        "argparse" => name == "Namespace",
        "numpy.core.multiarray" | "numpy._core.multiarray" => {
            matches!(name, "scalar" | "_reconstruct")
        }
        "numpy" => matches!(name, "dtype" | "ndarray"),
        "_codecs" => name == "encode",
        "builtins" | "__builtin__" => matches!(
            name,
            "set" | "frozenset" | "slice" | "complex" | "bytearray"
        ),
        _ => false,
    }
}

/// Parse the archive's single `…/data.pkl`; returns the parsed pickle and the folder its
/// storages live in.
pub(crate) fn read_pickle(archive: &Archive<'_>) -> Result<(Pickle, String), PickleError> {
    let names: Vec<&str> = archive
        .names()
        .filter(|n| n.ends_with("/data.pkl") || *n == "data.pkl")
        .collect();
    let name = match names.as_slice() {
        [one] => *one,
        [] => return Err(PickleError::Malformed("no data.pkl in the archive".into())),
        _ => {
            return Err(PickleError::Malformed(
                "several data.pkl in the archive".into(),
            ))
        }
    };
    let dir = name.strip_suffix(".pkl").unwrap_or(name).to_string();
    let pkl = archive.read(name).map_err(PickleError::Malformed)?;
    Ok((Pickle::parse(pkl, allowed)?, dir))
}

/// The tensors among a dict's entries, by their string keys (other values are skipped; a
/// tensor rebuild with malformed arguments is an error naming the key).
pub(crate) fn tensor_refs(
    p: &Pickle,
    entries: &[(NodeId, NodeId)],
    dir: &str,
) -> Result<Vec<TensorRef>, PickleError> {
    let mut refs = Vec::new();
    for &(key, value) in entries {
        let Some(name) = p.str(key) else { continue };
        let found = tensor(p, value, dir, 0)
            .map_err(|m| PickleError::Malformed(format!("tensor {name}: {m}")))?;
        if let Some(mut r) = found {
            r.name = name.to_string();
            refs.push(r);
        }
    }
    Ok(refs)
}

/// The tensor `id` rebuilds, if it is a tensor rebuild at all.
fn tensor(p: &Pickle, id: NodeId, dir: &str, depth: usize) -> Result<Option<TensorRef>, String> {
    let Node::Call { callable, args, .. } = p.node(id) else {
        return Ok(None);
    };
    rebuild(p, *callable, *args, dir, depth)
}

fn rebuild(
    p: &Pickle,
    callable: NodeId,
    args: NodeId,
    dir: &str,
    depth: usize,
) -> Result<Option<TensorRef>, String> {
    if depth > MAX_WRAPPING {
        return Err(format!(
            "tensor rebuilds nested more than {MAX_WRAPPING} deep"
        ));
    }
    let Some((module, name)) = p.global(callable) else {
        return Ok(None);
    };
    let is_rebuild = matches!(
        (module, name),
        ("torch._utils", _) | ("torch._tensor", _) | ("torch.nn.parameter", "Parameter")
    );
    if !is_rebuild {
        return Ok(None);
    }
    let args = p
        .tuple(args)
        .ok_or_else(|| format!("{module}.{name} with arguments that are not a tuple"))?;
    let arg = |i: usize| {
        args.get(i)
            .copied()
            .ok_or_else(|| format!("{module}.{name} with {} arguments, too few", args.len()))
    };
    match name {
        "_rebuild_tensor" | "_rebuild_tensor_v2" => {
            view(p, &[arg(0)?, arg(1)?, arg(2)?, arg(3)?], dir).map(Some)
        }
        "_rebuild_parameter" | "_rebuild_parameter_with_state" | "Parameter" => {
            tensor(p, arg(0)?, dir, depth + 1)
        }
        // _rebuild_from_type_v2(func, new_type, args, state): func(*args) is the tensor.
        "_rebuild_from_type_v2" => rebuild(p, arg(0)?, arg(2)?, dir, depth + 1),
        other => Err(format!(
            "{module}.{other} (quantized, sparse, nested or meta tensors) is not supported"
        )),
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`.
fn view(p: &Pickle, args: &[NodeId; 4], dir: &str) -> Result<TensorRef, String> {
    let [storage, offset, size, stride] = *args;
    let index = |id: NodeId, what: &str| -> Result<usize, String> {
        p.int(id)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| {
                format!(
                    "its {what} is not a non-negative integer but {}",
                    p.kind(id)
                )
            })
    };
    let list = |id: NodeId, what: &str| -> Result<Vec<usize>, String> {
        let items = p
            .tuple(id)
            .ok_or_else(|| format!("its {what} is {}, not a tuple", p.kind(id)))?;
        if items.len() > MAX_DIMS {
            return Err(format!("{} dimensions (at most {MAX_DIMS})", items.len()));
        }
        items.iter().map(|&i| index(i, what)).collect()
    };
    let dims = list(size, "size")?;
    let strides = list(stride, "stride")?;
    if dims.len() != strides.len() {
        return Err(format!(
            "size {dims:?} and stride {strides:?} differ in length"
        ));
    }
    let offset = index(offset, "storage offset")?;
    let bad_storage = || "its storage is not ('storage', type, key, location, size)".to_string();
    let Node::Persistent(pid) = p.node(storage) else {
        return Err(bad_storage());
    };
    let fields = p.tuple(*pid).ok_or_else(bad_storage)?;
    let [tag, class, key, _location, numel] = fields else {
        return Err(bad_storage());
    };
    if p.str(*tag) != Some("storage") {
        return Err(bad_storage());
    }
    let (_, class) = p.global(*class).ok_or_else(bad_storage)?;
    let elem =
        Elem::from_storage(class).ok_or_else(|| format!("unsupported storage type {class}"))?;
    let key = p.str(*key).ok_or_else(bad_storage)?;
    if key.is_empty() || key.contains(['/', '\\']) || key.contains("..") {
        return Err(format!("storage key '{key}' is not a plain name"));
    }
    Ok(TensorRef {
        name: String::new(),
        elem,
        dims,
        strides,
        offset,
        path: format!("{dir}/{key}"),
        storage_numel: index(*numel, "storage size")?,
    })
}

/// A tensor's values in row-major order, with its shape.
pub(crate) struct Values<T> {
    pub dims: Vec<usize>,
    pub values: Vec<T>,
}

/// Decodes the tensor `r` describes from its storage entry, honouring offset and strides.
pub(crate) fn decode<T>(
    archive: &Archive<'_>,
    r: &TensorRef,
    convert: impl Fn(Elem, &[u8]) -> Option<T>,
) -> Result<Values<T>, DecodeError> {
    let shape_err = DecodeError::Layout;
    let (dims, strides) = (&r.dims, &r.strides);
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| shape_err(format!("shape {dims:?} is too large")))?;
    if count > r.storage_numel.max(MAX_EXPANDED_ELEMENTS) {
        return Err(shape_err(format!(
            "shape {dims:?} has {count} elements, expanded from a storage of {}",
            r.storage_numel
        )));
    }
    let width = r.elem.size();
    let storage = archive.read(&r.path).map_err(DecodeError::Archive)?;
    let declared = r.storage_numel.checked_mul(width);
    if declared.is_none_or(|n| n > storage.len()) {
        return Err(shape_err(format!(
            "its storage should hold {} elements of {} bytes, the entry has {} bytes",
            r.storage_numel,
            width,
            storage.len()
        )));
    }
    if count > 0 {
        let last = dims.iter().zip(strides).try_fold(r.offset, |a, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| a.checked_add(x))
        });
        if last.is_none_or(|l| l >= r.storage_numel) {
            return Err(shape_err(format!(
                "offset {} with size {dims:?} and stride {strides:?} reaches past its storage of {} elements",
                r.offset, r.storage_numel
            )));
        }
    }
    let mut values = Vec::with_capacity(count);
    let mut idx = vec![0usize; dims.len()];
    for _ in 0..count {
        // In bounds: the last index was checked above without overflow.
        let off = r.offset + idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>();
        let bytes = &storage[off * width..(off + 1) * width];
        values.push(
            convert(r.elem, bytes)
                .ok_or_else(|| shape_err(format!("unsupported element type {:?}", r.elem)))?,
        );
        for d in (0..dims.len()).rev() {
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(Values {
        dims: dims.clone(),
        values,
    })
}

fn le<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

pub(crate) fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let frac = (bits & 0x3ff) as u32;
    let out = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: value = f · 2^-24
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, f) => sign | 0x7fc0_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(out)
}

pub(crate) fn float_value(elem: Elem, b: &[u8]) -> Option<f32> {
    match elem {
        Elem::F32 => Some(f32::from_le_bytes(le(b))),
        Elem::F64 => Some(f64::from_le_bytes(le(b)) as f32),
        Elem::F16 => Some(f16_to_f32(u16::from_le_bytes(le(b)))),
        Elem::BF16 => Some(f32::from_bits((u16::from_le_bytes(le(b)) as u32) << 16)),
        _ => None,
    }
}

pub(crate) fn int_value(elem: Elem, b: &[u8]) -> Option<f64> {
    match elem {
        Elem::I64 => Some(i64::from_le_bytes(le(b)) as f64),
        Elem::I32 => Some(i32::from_le_bytes(le(b)) as f64),
        Elem::I16 => Some(i16::from_le_bytes(le(b)) as f64),
        Elem::I8 => Some(b[0] as i8 as f64),
        Elem::U8 | Elem::Bool => Some(b[0] as f64),
        Elem::F32 => Some(f32::from_le_bytes(le(b)) as f64),
        Elem::F64 => Some(f64::from_le_bytes(le(b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decoding() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.33325195);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn allow_list_refuses_code_and_keeps_tensor_rebuilds() {
        assert!(allowed("torch._utils", "_rebuild_tensor_v2"));
        assert!(allowed("collections", "OrderedDict"));
        assert!(!allowed("posix", "system"));
        assert!(!allowed("builtins", "eval"));
        assert!(!allowed("builtins", "getattr"));
        assert!(!allowed("torch._utils", "_load_from_bytes"));
    }

    #[test]
    fn binary_and_text_are_told_apart() {
        assert_eq!(not_zip_hint(b"PK\x03\x04rest"), None);
        assert!(not_zip_hint(b"hello world\n").is_some_and(|h| h.contains("text")));
        assert!(not_zip_hint(b"\x01\x02\x03\x04").is_some_and(|h| h.contains("unknown")));
        assert!(not_zip_hint(b"").is_some_and(|h| h.contains("empty")));
    }
}
