//! Reading what `torch.save` writes without running any of it: the restricted pickle parse
//! (candle's unpickler, which builds plain objects and never imports or calls anything), an
//! allow-list of the callables a checkpoint may name — a file that asks for `os.system` or
//! `builtins.eval` is refused with that name rather than quietly half-read — and decoding of
//! tensor storages with any dtype, offset and strides.

use candle_core::pickle::{Object, Stack, TensorInfo};
use candle_core::DType;

use super::torch_zip::Archive;

/// Refuse tensors larger than this many elements (a damaged header must not allocate wildly).
pub(crate) const MAX_ELEMENTS: usize = 1 << 31;

/// Why a tensor could not be read.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// The storage entry is missing or damaged.
    Archive(String),
    /// Shape, strides or element type do not fit the storage.
    Layout(String),
}

/// `None` when `bytes` start like a zip archive, else a hint of what the file is.
pub(crate) fn not_zip_hint(bytes: &[u8]) -> Option<String> {
    if bytes.starts_with(b"PK\x03\x04") {
        return None;
    }
    let head = &bytes[..bytes.len().min(4)];
    Some(if head.is_empty() {
        "the file is empty".to_string()
    } else if head[0] == 0x80 {
        "this looks like the legacy (pre-1.6) torch format; re-save it with a current torch".into()
    } else if head.iter().all(|b| b.is_ascii()) {
        "the file looks like text".into()
    } else {
        format!("unknown leading bytes {head:02x?}")
    })
}

/// Modules whose names a checkpoint may reference. Nothing is ever called; this refuses files
/// that would run code under `torch.load` instead of reading a crafted file half-way.
fn allowed(module: &str, name: &str) -> bool {
    match module {
        "collections" => matches!(name, "OrderedDict" | "defaultdict"),
        "torch._utils" => name.starts_with("_rebuild_"),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch" => {
            name.ends_with("Storage")
                || matches!(
                    name,
                    "Size" | "device" | "float32" | "float16" | "bfloat16" | "int64"
                )
        }
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

/// The first callable in `obj` that is not allowed, as `module.name`.
fn forbidden(obj: &Object) -> Option<String> {
    match obj {
        Object::Class {
            module_name,
            class_name,
        } => (!allowed(module_name, class_name)).then(|| format!("{module_name}.{class_name}")),
        Object::Tuple(v) | Object::List(v) => v.iter().find_map(forbidden),
        Object::Dict(kv) => kv
            .iter()
            .find_map(|(k, v)| forbidden(k).or_else(|| forbidden(v))),
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            forbidden(callable).or_else(|| forbidden(args))
        }
        Object::PersistentLoad(o) => forbidden(o),
        _ => None,
    }
}

/// Why a pickle was not read.
#[derive(Debug)]
pub(crate) enum PickleError {
    /// It names a callable outside the allow-list.
    Refused(String),
    Malformed(String),
}

/// Parse the archive's single `…/data.pkl`; returns the object and the folder its storages
/// live in.
pub(crate) fn read_pickle(archive: &Archive<'_>) -> Result<(Object, String), PickleError> {
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
    // The unpickler is third-party code running on untrusted bytes: contain any panic.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut stack = Stack::empty();
        let mut reader: &[u8] = pkl;
        stack.read_loop(&mut reader)?;
        stack.finalize()
    }));
    let obj = match parsed {
        Ok(Ok(obj)) => obj,
        Ok(Err(e)) => return Err(PickleError::Malformed(e.to_string())),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            return Err(PickleError::Malformed(format!(
                "malformed pickle (reader panicked: {message})"
            )));
        }
    };
    if let Some(name) = forbidden(&obj) {
        return Err(PickleError::Refused(name));
    }
    Ok((obj, dir))
}

/// Tensor descriptions of a dict's entries (non-tensor values are skipped).
pub(crate) fn tensor_infos(
    entries: Vec<(Object, Object)>,
    dir: &str,
) -> Result<Vec<TensorInfo>, PickleError> {
    let mut infos = Vec::new();
    for (key, value) in entries {
        if let Some(info) = value
            .into_tensor_info(key, std::path::Path::new(dir))
            .map_err(|e| PickleError::Malformed(e.to_string()))?
        {
            infos.push(info);
        }
    }
    Ok(infos)
}

/// A tensor's values in row-major order, with its shape.
pub(crate) struct Values<T> {
    pub dims: Vec<usize>,
    pub values: Vec<T>,
}

/// Decodes a tensor described by `info` from its storage entry, honouring offset and strides.
pub(crate) fn decode<T>(
    archive: &Archive<'_>,
    info: &TensorInfo,
    convert: impl Fn(DType, &[u8]) -> Option<T>,
) -> Result<Values<T>, DecodeError> {
    let shape_err = DecodeError::Layout;
    let dims = info.layout.dims().to_vec();
    let strides = info.layout.stride().to_vec();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&c| c <= MAX_ELEMENTS)
        .ok_or_else(|| shape_err(format!("shape {dims:?} is too large")))?;
    let width = info.dtype.size_in_bytes();
    let storage = archive.read(&info.path).map_err(DecodeError::Archive)?;
    // candle records the storage offset in bytes.
    let start = info.layout.start_offset();
    if !start.is_multiple_of(width) || strides.len() != dims.len() {
        return Err(shape_err("inconsistent layout".into()));
    }
    let start = start / width;
    if count > 0 {
        let last = dims.iter().zip(&strides).try_fold(start, |a, (&d, &s)| {
            (d - 1).checked_mul(s).and_then(|x| a.checked_add(x))
        });
        let in_bounds = last
            .and_then(|l| l.checked_add(1))
            .and_then(|n| n.checked_mul(width))
            .is_some_and(|end| end <= storage.len());
        if !in_bounds {
            return Err(shape_err(format!(
                "layout {dims:?} / strides {strides:?} reaches past its {} byte storage",
                storage.len()
            )));
        }
    }
    let mut values = Vec::with_capacity(count);
    let mut idx = vec![0usize; dims.len()];
    for _ in 0..count {
        let off = start + idx.iter().zip(&strides).map(|(i, s)| i * s).sum::<usize>();
        let bytes = &storage[off * width..(off + 1) * width];
        values.push(
            convert(info.dtype, bytes)
                .ok_or_else(|| shape_err(format!("unsupported element type {:?}", info.dtype)))?,
        );
        for d in (0..dims.len()).rev() {
            idx[d] += 1;
            if idx[d] < dims[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(Values { dims, values })
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

pub(crate) fn float_value(dtype: DType, b: &[u8]) -> Option<f32> {
    match dtype {
        DType::F32 => Some(f32::from_le_bytes(le(b))),
        DType::F64 => Some(f64::from_le_bytes(le(b)) as f32),
        DType::F16 => Some(f16_to_f32(u16::from_le_bytes(le(b)))),
        DType::BF16 => Some(f32::from_bits((u16::from_le_bytes(le(b)) as u32) << 16)),
        _ => None,
    }
}

pub(crate) fn int_value(dtype: DType, b: &[u8]) -> Option<f64> {
    match dtype {
        DType::I64 => Some(i64::from_le_bytes(le(b)) as f64),
        DType::U8 => Some(b[0] as f64),
        DType::F32 => Some(f32::from_le_bytes(le(b)) as f64),
        DType::F64 => Some(f64::from_le_bytes(le(b))),
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
        let class = |m: &str, c: &str| Object::Class {
            module_name: m.into(),
            class_name: c.into(),
        };
        let ok = Object::Reduce {
            callable: Box::new(class("torch._utils", "_rebuild_tensor_v2")),
            args: Box::new(Object::Tuple(vec![])),
        };
        assert_eq!(forbidden(&ok), None);
        let evil = Object::Dict(vec![(
            Object::Unicode("x".into()),
            Object::Reduce {
                callable: Box::new(class("posix", "system")),
                args: Box::new(Object::Tuple(vec![Object::Unicode("echo".into())])),
            },
        )]);
        assert_eq!(forbidden(&evil).as_deref(), Some("posix.system"));
        assert_eq!(
            forbidden(&class("builtins", "eval")).as_deref(),
            Some("builtins.eval")
        );
    }
}
