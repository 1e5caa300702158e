//! Hostile PyTorch checkpoints, made byte by byte here: pickles that would run code under
//! `torch.load` wherever they hide the callable, pickles that would exhaust the stack, the memo
//! or memory, tensors whose offsets, strides and sizes do not fit their storage, and damaged zip
//! containers. Each must give an error that names the file and the problem — or, for the
//! well-formed ones, the right tensors — and never a panic or a huge allocation.

use std::path::{Path, PathBuf};

use adalens::model::checkpoint::{CheckpointError, StateDict};
use adalens::model::official_logits::load_official_logits;

mod common;
use common::peak_rss;

// ---------------------------------------------------------------------------------------------
// A stored zip, as torch.save writes it.

#[path = "support/stored_zip.rs"]
mod stored_zip;
use stored_zip::zip_with;

/// `archive/data.pkl` plus storages `archive/data/<key>`.
fn torch_zip(pkl: &[u8], storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let names: Vec<String> = storages
        .iter()
        .map(|(k, _)| format!("archive/data/{k}"))
        .collect();
    let mut entries: Vec<(&str, &[u8], u16)> = vec![("archive/data.pkl", pkl, 0)];
    for (name, (_, bytes)) in names.iter().zip(storages) {
        entries.push((name, bytes, 0));
    }
    entries.push(("archive/version", b"3\n", 0));
    zip_with(&entries)
}

// ---------------------------------------------------------------------------------------------
// Pickle pieces (protocol 2, as torch.save writes).

fn s(text: &str) -> Vec<u8> {
    let mut b = vec![b'X'];
    b.extend_from_slice(&(text.len() as u32).to_le_bytes());
    b.extend_from_slice(text.as_bytes());
    b
}
fn int(v: i64) -> Vec<u8> {
    let mut b = vec![0x8a, 8];
    b.extend_from_slice(&v.to_le_bytes());
    b
}
fn global(module: &str, name: &str) -> Vec<u8> {
    format!("c{module}\n{name}\n").into_bytes()
}
fn tuple(items: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![b'('];
    for i in items {
        b.extend_from_slice(i);
    }
    b.push(b't');
    b
}
fn call(callable: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
    let mut b = callable;
    b.extend(tuple(args));
    b.push(b'R');
    b
}
fn ordered_dict(items: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut b = call(global("collections", "OrderedDict"), &[]);
    b.push(b'(');
    for (k, v) in items {
        b.extend_from_slice(k);
        b.extend_from_slice(v);
    }
    b.push(b'u');
    b
}
fn pickle(body: Vec<u8>) -> Vec<u8> {
    let mut b = b"\x80\x02".to_vec();
    b.extend(body);
    b.push(b'.');
    b
}
fn storage(class: &str, key: &str, numel: i64) -> Vec<u8> {
    let mut b = tuple(&[
        s("storage"),
        global("torch", class),
        s(key),
        s("cpu"),
        int(numel),
    ]);
    b.push(b'Q');
    b
}
fn dims(v: &[i64]) -> Vec<u8> {
    tuple(&v.iter().map(|&d| int(d)).collect::<Vec<_>>())
}
/// `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
fn tensor_with(storage_arg: Vec<u8>, offset: i64, size: &[i64], stride: &[i64]) -> Vec<u8> {
    call(
        global("torch._utils", "_rebuild_tensor_v2"),
        &[
            storage_arg,
            int(offset),
            dims(size),
            dims(stride),
            b"\x89".to_vec(),
            call(global("collections", "OrderedDict"), &[]),
        ],
    )
}
fn tensor(key: &str, numel: i64, size: &[i64], stride: &[i64]) -> Vec<u8> {
    tensor_with(storage("FloatStorage", key, numel), 0, size, stride)
}
fn floats(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A well-formed checkpoint: `{"w": [[0,1,2],[3,4,5]]}` over a 6-float storage.
fn good_body() -> Vec<u8> {
    ordered_dict(&[(s("w"), tensor("0", 6, &[2, 3], &[3, 1]))])
}
fn good_storage() -> Vec<(&'static str, Vec<u8>)> {
    vec![("0", floats(&[0., 1., 2., 3., 4., 5.]))]
}

// ---------------------------------------------------------------------------------------------

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }
    /// Load `bytes` as `name` and return the error, checking that it names the file and says
    /// `problem`.
    fn refused(&self, name: &str, bytes: &[u8], problem: &str) -> CheckpointError {
        let path = self.write(name, bytes);
        let e = StateDict::load(&path).expect_err(name);
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{name}: {msg}");
        assert!(
            msg.contains(problem),
            "{name}: expected '{problem}' in: {msg}"
        );
        e
    }
}

fn checkpoint(body: Vec<u8>) -> Vec<u8> {
    torch_zip(&pickle(body), &good_storage())
}

#[test]
fn the_hand_made_checkpoint_reads_back_its_values() {
    let c = Case::new();
    let p = c.write("good.pth", &checkpoint(good_body()));
    let sd = StateDict::load(&p).expect("loads");
    let w = &sd.tensors["w"];
    assert_eq!(w.dims(), &[2, 3]);
    assert_eq!(
        w.to_vec2::<f32>().expect("values"),
        vec![vec![0., 1., 2.], vec![3., 4., 5.]]
    );
    // A transposed view of the same storage (stride (1, 3)) and an offset one.
    let body = ordered_dict(&[
        (s("t"), tensor("0", 6, &[3, 2], &[1, 3])),
        (
            s("o"),
            tensor_with(storage("FloatStorage", "0", 6), 4, &[2], &[1]),
        ),
    ]);
    let sd = StateDict::load(c.write("views.pth", &checkpoint(body))).expect("loads");
    assert_eq!(
        sd.tensors["t"].to_vec2::<f32>().expect("values"),
        vec![vec![0., 3.], vec![1., 4.], vec![2., 5.]]
    );
    assert_eq!(
        sd.tensors["o"].to_vec1::<f32>().expect("values"),
        vec![4., 5.]
    );
}

#[test]
fn wrapped_tensors_and_other_storage_types_read_back() {
    let c = Case::new();
    let param = call(
        global("torch._utils", "_rebuild_parameter"),
        &[
            tensor("0", 6, &[6], &[1]),
            b"\x88".to_vec(),
            ordered_dict(&[]),
        ],
    );
    let typed = call(
        global("torch._tensor", "_rebuild_from_type_v2"),
        &[
            global("torch._utils", "_rebuild_tensor_v2"),
            global("torch", "Tensor"),
            tuple(&[
                storage("FloatStorage", "0", 6),
                int(0),
                dims(&[2]),
                dims(&[1]),
                b"\x89".to_vec(),
                ordered_dict(&[]),
            ]),
            b"}".to_vec(),
        ],
    );
    let ints = tensor_with(storage("IntStorage", "1", 3), 0, &[3], &[1]);
    let flags = tensor_with(storage("BoolStorage", "2", 2), 0, &[2], &[1]);
    let body = ordered_dict(&[
        (s("p"), param),
        (s("typed"), typed),
        (s("ints"), ints),
        (s("flags"), flags),
    ]);
    let mut stores = good_storage();
    stores.push((
        "1",
        [7i32, -8, 9].iter().flat_map(|x| x.to_le_bytes()).collect(),
    ));
    stores.push(("2", vec![1, 0]));
    let sd =
        StateDict::load(c.write("wrapped.pth", &torch_zip(&pickle(body), &stores))).expect("loads");
    assert_eq!(sd.tensors["p"].dims(), &[6]);
    assert_eq!(
        sd.tensors["typed"].to_vec1::<f32>().expect("v"),
        vec![0., 1.]
    );
    assert_eq!(
        sd.tensors["ints"].to_vec1::<i64>().expect("v"),
        vec![7, -8, 9]
    );
    assert_eq!(sd.tensors["flags"].to_vec1::<i64>().expect("v"), vec![1, 0]);
}

/// A REDUCE of `module.name` with one string argument.
fn code(module: &str, name: &str) -> Vec<u8> {
    call(global(module, name), &[s("touch /tmp/adalens-pwned")])
}

#[test]
fn code_is_refused_wherever_the_pickle_hides_it() {
    let c = Case::new();
    let evil = || code("posix", "system");
    let w = || tensor("0", 6, &[2, 3], &[3, 1]);
    let hiding_places: Vec<(&str, Vec<u8>)> = vec![
        ("as_the_result", evil()),
        (
            "as_a_value",
            ordered_dict(&[(s("w"), w()), (s("x"), evil())]),
        ),
        ("as_a_key", ordered_dict(&[(evil(), w())])),
        // OrderedDict([(k, os.system(..))]): its arguments, not SETITEMS.
        (
            "in_ordered_dict_args",
            call(
                global("collections", "OrderedDict"),
                &[[b"]".to_vec(), tuple(&[s("k"), evil()]), b"a".to_vec()].concat()],
            ),
        ),
        // defaultdict(os.system): the factory is never called here, but torch.load would build it.
        (
            "as_defaultdict_factory",
            call(
                global("collections", "defaultdict"),
                &[global("posix", "system")],
            ),
        ),
        (
            "in_backward_hooks",
            ordered_dict(&[(
                s("w"),
                call(
                    global("torch._utils", "_rebuild_tensor_v2"),
                    &[
                        storage("FloatStorage", "0", 6),
                        int(0),
                        dims(&[6]),
                        dims(&[1]),
                        b"\x89".to_vec(),
                        ordered_dict(&[(int(0), evil())]),
                    ],
                ),
            )]),
        ),
        (
            "in_metadata_state",
            [
                good_body(),
                ordered_dict(&[(s("_metadata"), evil())]),
                b"b".to_vec(),
            ]
            .concat(),
        ),
        // Left on the stack under the returned dict: torch.load runs it, then returns the dict.
        ("under_the_result", [evil(), good_body()].concat()),
        // Named and popped at once: naming is enough (GLOBAL imports it).
        (
            "named_and_popped",
            [global("posix", "system"), b"0".to_vec(), good_body()].concat(),
        ),
        (
            "in_a_persistent_id",
            ordered_dict(&[(
                s("w"),
                tensor_with([evil(), b"Q".to_vec()].concat(), 0, &[6], &[1]),
            )]),
        ),
    ];
    for (name, body) in hiding_places {
        let e = c.refused(&format!("{name}.pth"), &checkpoint(body), "posix.system");
        assert!(matches!(e, CheckpointError::Refused { .. }), "{name}: {e}");
    }
}

#[test]
fn every_opcode_that_names_a_callable_is_checked() {
    let c = Case::new();
    // STACK_GLOBAL (protocol 4 names callables from two strings on the stack).
    let stack_global = [
        s("os"),
        s("system"),
        vec![0x93],
        tuple(&[s("id")]),
        b"R".to_vec(),
    ]
    .concat();
    c.refused("stack_global.pth", &checkpoint(stack_global), "os.system");
    // INST (protocol 0): MARK args INST module name.
    let inst = [b"(".to_vec(), s("id"), b"ios\nsystem\n".to_vec()].concat();
    c.refused("inst.pth", &checkpoint(inst), "os.system");
    // OBJ: MARK class args OBJ.
    let obj = [
        b"(".to_vec(),
        global("subprocess", "Popen"),
        s("id"),
        b"o".to_vec(),
    ]
    .concat();
    c.refused("obj.pth", &checkpoint(obj), "subprocess.Popen");
    // NEWOBJ.
    let newobj = [global("subprocess", "Popen"), tuple(&[s("id")]), vec![0x81]].concat();
    c.refused("newobj.pth", &checkpoint(newobj), "subprocess.Popen");
    // EXT1: a callable from copyreg's registry.
    c.refused("ext1.pth", &checkpoint(vec![0x82, 1]), "extension registry");
    // The usual suspects, each as a plain GLOBAL + REDUCE.
    for (module, name) in [
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("__builtin__", "eval"),
        ("os", "system"),
        ("nt", "system"),
        ("subprocess", "check_output"),
        ("runpy", "_run_code"),
        ("pickle", "loads"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("torch._utils", "_load_from_bytes"),
        ("numpy", "load"),
        ("webbrowser", "open"),
    ] {
        let e = c.refused(
            &format!("{module}_{name}.pth"),
            &checkpoint(code(module, name)),
            &format!("{module}.{name}"),
        );
        assert!(matches!(e, CheckpointError::Refused { .. }), "{e}");
    }
}

#[test]
fn tensor_rebuilds_with_missing_or_wrong_arguments_are_errors_not_panics() {
    let c = Case::new();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "v2_two_args",
            call(
                global("torch._utils", "_rebuild_tensor_v2"),
                &[storage("FloatStorage", "0", 6), int(0)],
            ),
            "too few",
        ),
        (
            "parameter_no_args",
            call(global("torch._utils", "_rebuild_parameter"), &[]),
            "too few",
        ),
        (
            "from_type_one_arg",
            call(
                global("torch._tensor", "_rebuild_from_type_v2"),
                &[global("torch._utils", "_rebuild_tensor_v2")],
            ),
            "too few",
        ),
        (
            "short_persistent_id",
            tensor_with(
                [tuple(&[s("storage")]), b"Q".to_vec()].concat(),
                0,
                &[6],
                &[1],
            ),
            "storage is not",
        ),
        (
            "persistent_id_not_a_tuple",
            tensor_with([s("0"), b"Q".to_vec()].concat(), 0, &[6], &[1]),
            "storage is not",
        ),
        (
            "storage_not_persistent",
            tensor_with(int(3), 0, &[6], &[1]),
            "storage is not",
        ),
        (
            "size_not_a_tuple",
            call(
                global("torch._utils", "_rebuild_tensor_v2"),
                &[
                    storage("FloatStorage", "0", 6),
                    int(0),
                    s("big"),
                    dims(&[1]),
                ],
            ),
            "size is a str",
        ),
        (
            "negative_size",
            tensor("0", 6, &[-1], &[1]),
            "not a non-negative integer",
        ),
        (
            "size_stride_mismatch",
            tensor("0", 6, &[2, 3], &[1]),
            "differ in length",
        ),
        (
            "seventeen_dims",
            tensor("0", 6, &[1; 17], &[1; 17]),
            "17 dimensions",
        ),
        (
            "complex_storage",
            tensor_with(storage("ComplexFloatStorage", "0", 3), 0, &[3], &[1]),
            "unsupported storage type ComplexFloatStorage",
        ),
        (
            "quantized",
            call(global("torch._utils", "_rebuild_qtensor"), &[int(0)]),
            "not supported",
        ),
        (
            "key_with_path",
            tensor_with(
                storage("FloatStorage", "../../etc/passwd", 6),
                0,
                &[6],
                &[1],
            ),
            "not a plain name",
        ),
        (
            "wrapped_too_deep",
            (0..20).fold(tensor("0", 6, &[6], &[1]), |inner, _| {
                call(global("torch._utils", "_rebuild_parameter"), &[inner])
            }),
            "nested more than",
        ),
    ];
    for (name, value, problem) in cases {
        let body = ordered_dict(&[(s("w"), value)]);
        let e = c.refused(&format!("{name}.pth"), &checkpoint(body), problem);
        assert!(matches!(e, CheckpointError::Pickle { .. }), "{name}: {e}");
    }
}

#[test]
fn views_that_do_not_fit_their_storage_are_refused() {
    let c = Case::new();
    let one = |value: Vec<u8>| checkpoint(ordered_dict(&[(s("w"), value)]));
    let at = |offset: i64, size: &[i64], stride: &[i64]| {
        one(tensor_with(
            storage("FloatStorage", "0", 6),
            offset,
            size,
            stride,
        ))
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "offset_2_62_plus_4",
            at((1 << 62) + 4, &[1], &[1]),
            "reaches past its storage",
        ),
        (
            "offset_past_end",
            at(6, &[1], &[1]),
            "reaches past its storage",
        ),
        (
            "negative_offset",
            at(-1, &[1], &[1]),
            "not a non-negative integer",
        ),
        (
            "stride_past_end",
            at(0, &[2, 3], &[4, 1]),
            "reaches past its storage",
        ),
        (
            "stride_overflow",
            at(0, &[2, 2], &[1 << 62, 1 << 62]),
            "reaches past its storage",
        ),
        (
            "size_overflow",
            at(0, &[1 << 40, 1 << 40], &[0, 0]),
            "too large",
        ),
        // Stride 0 would make 2^30 floats (4 GiB) out of a 24-byte storage.
        (
            "stride_0_expansion",
            at(0, &[1 << 15, 1 << 15], &[0, 0]),
            "expanded from a storage of 6",
        ),
        // The pickle says the storage holds 1000 floats; the entry has 6.
        (
            "storage_bigger_than_entry",
            one(tensor("0", 1000, &[1000], &[1])),
            "the entry has 24 bytes",
        ),
        (
            "storage_entry_missing",
            one(tensor("9", 6, &[6], &[1])),
            "no entry 'archive/data/9'",
        ),
    ];
    for (name, bytes, problem) in cases {
        let e = c.refused(&format!("{name}.pth"), &bytes, problem);
        assert!(
            matches!(
                e,
                CheckpointError::Tensor { .. } | CheckpointError::Pickle { .. }
            ),
            "{name}: {e}"
        );
    }
}

#[test]
fn malformed_pickles_are_errors_that_say_where() {
    let c = Case::new();
    let full = pickle(good_body());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty_pickle", Vec::new(), "without STOP"),
        (
            "truncated_pickle",
            full[..full.len() / 2].to_vec(),
            "at byte",
        ),
        ("no_stop", full[..full.len() - 1].to_vec(), "without STOP"),
        (
            "huge_unicode_length",
            b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x3f.".to_vec(),
            "only",
        ),
        (
            "huge_bytes_length",
            b"\x80\x03B\xff\xff\xff\x7f.".to_vec(),
            "only",
        ),
        (
            "huge_long4",
            [
                b"\x80\x02\x8b\x00\x00\x10\x00".to_vec(),
                vec![1; 1 << 20],
                b".".to_vec(),
            ]
            .concat(),
            "-byte integer",
        ),
        (
            "unknown_opcode",
            b"\x80\x02\xff.".to_vec(),
            "unknown opcode 0xff",
        ),
        (
            "protocol_9",
            b"\x80\x09}.".to_vec(),
            "unknown pickle protocol 9",
        ),
        (
            "memo_get_missing",
            b"\x80\x02h\x07.".to_vec(),
            "memo entry 7",
        ),
        ("pop_empty", b"\x80\x020.".to_vec(), "empty stack"),
        ("stop_empty", b"\x80\x02.".to_vec(), "empty stack"),
        (
            "setitems_odd",
            b"\x80\x02}(X\x01\x00\x00\x00ku.".to_vec(),
            "odd number",
        ),
        (
            "setitem_on_list",
            b"\x80\x02]X\x01\x00\x00\x00kK\x01s.".to_vec(),
            "not a dict",
        ),
        ("append_to_dict", b"\x80\x02}K\x01a.".to_vec(), "not a list"),
        ("tuple_without_mark", b"\x80\x02K\x01t.".to_vec(), "no MARK"),
        (
            "reduce_a_string",
            b"\x80\x02X\x01\x00\x00\x00a)R.".to_vec(),
            "not a named callable",
        ),
        (
            "reduce_args_not_tuple",
            pickle([global("collections", "OrderedDict"), b"K\x01R".to_vec()].concat()),
            "not a tuple",
        ),
        (
            "stack_global_ints",
            b"\x80\x04K\x01K\x02\x93.".to_vec(),
            "non-strings",
        ),
        (
            "global_without_newline",
            b"\x80\x02cposix".to_vec(),
            "newline",
        ),
        (
            "out_of_band_buffer",
            b"\x80\x05\x97.".to_vec(),
            "out-of-band",
        ),
        (
            "a_list_not_a_dict",
            b"\x80\x02].".to_vec(),
            "holds a list, not a dict",
        ),
    ];
    for (name, pkl, problem) in cases {
        let e = c.refused(
            &format!("{name}.pth"),
            &torch_zip(&pkl, &good_storage()),
            problem,
        );
        assert!(matches!(e, CheckpointError::Pickle { .. }), "{name}: {e}");
    }
}

#[test]
fn bombs_stay_small() {
    let c = Case::new();
    // 100,000 nested lists, tuples and dicts: nothing recurses on them.
    let n = 100_000;
    let lists = [vec![b']'; n], vec![b'a'; n - 1]].concat();
    let tuples = [vec![b'('; n], vec![b't'; n]].concat();
    let dicts = [
        vec![b'}'],
        (0..n - 1).flat_map(|_| *b"K\x00}").collect(),
        vec![b's'; n - 1],
    ]
    .concat();
    for (name, deep, problem) in [
        ("lists", lists, "holds a list, not a dict"),
        ("tuples", tuples, "holds a tuple, not a dict"),
        ("dicts", dicts, "no tensors found"),
    ] {
        // As the result: not a dict of tensors.
        c.refused(
            &format!("deep_{name}.pth"),
            &checkpoint(deep.clone()),
            problem,
        );
        // Beside a good tensor: skipped, the tensor loads.
        let body = ordered_dict(&[(s("w"), tensor("0", 6, &[6], &[1])), (s("deep"), deep)]);
        let sd =
            StateDict::load(c.write(&format!("beside_{name}.pth"), &checkpoint(body))).expect(name);
        assert_eq!(sd.tensors.len(), 1);
    }
    // A memo bomb: each level is a pair of the level below, 2^64 leaves in under 600 bytes.
    let mut bomb = b"]q\x00".to_vec();
    for _ in 0..64 {
        bomb.extend_from_slice(b"h\x00h\x00\x86q\x00");
    }
    let body = ordered_dict(&[
        (s("w"), tensor("0", 6, &[6], &[1])),
        (s("bomb"), bomb.clone()),
    ]);
    let sd = StateDict::load(c.write("memo_bomb.pth", &checkpoint(body))).expect("loads");
    assert_eq!(sd.tensors.len(), 1);
    c.refused("memo_bomb_result.pth", &checkpoint(bomb), "holds a tuple");
    // Ten million DUPs: a long but finite stack, refused as no dict.
    let dups = [b"K\x01".to_vec(), vec![b'2'; 10_000_000]].concat();
    c.refused("dups.pth", &checkpoint(dups), "holds an int");
    assert!(peak_rss() < 1 << 30, "peak RSS {} MiB", peak_rss() >> 20);
}

#[test]
fn damaged_containers_are_archive_errors() {
    let c = Case::new();
    let pkl = pickle(good_body());
    let good = torch_zip(&pkl, &good_storage());
    let mut crc = good.clone();
    let at = crc
        .windows(4)
        .position(|w| w == b"\x80\x02\x63\x63")
        .unwrap_or(40);
    crc[at + 1] ^= 0x01;
    let mut cd_past_end = good.clone();
    let n = cd_past_end.len();
    cd_past_end[n - 6..n - 2].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut many_entries = good.clone();
    many_entries[n - 12..n - 10].copy_from_slice(&u16::MAX.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no_data_pkl",
            zip_with(&[("archive/other", b"x", 0)]),
            "no data.pkl",
        ),
        (
            "two_data_pkl",
            zip_with(&[("a/data.pkl", &pkl, 0), ("b/data.pkl", &pkl, 0)]),
            "several data.pkl",
        ),
        (
            "deflated",
            zip_with(&[("archive/data.pkl", &pkl, 8)]),
            "compressed",
        ),
        ("crc", crc, "CRC mismatch"),
        ("cd_past_end", cd_past_end, "past the end"),
        ("many_entries", many_entries, "central directory"),
        ("only_the_magic", b"PK\x03\x04".to_vec(), "too short"),
        (
            "no_end_record",
            good[..good.len() - 22].to_vec(),
            "end-of-central-directory",
        ),
    ];
    for (name, bytes, problem) in cases {
        let e = c.refused(&format!("{name}.pth"), &bytes, problem);
        assert!(
            matches!(
                e,
                CheckpointError::Archive { .. } | CheckpointError::Pickle { .. }
            ),
            "{name}: {e}"
        );
    }
    // A binary file that is not a zip is not called text.
    let e = c.refused(
        "binary.pth",
        &[0x01, 0x02, 0x03, 0xfe, 0x00, 0x10],
        "unknown leading bytes",
    );
    assert!(matches!(e, CheckpointError::UnknownFormat { .. }), "{e}");
}

#[test]
fn calibration_logits_files_go_through_the_same_reader() {
    let c = Case::new();
    let path: &Path = &c.write("evil_logits.pth", &checkpoint(code("posix", "system")));
    let e = load_official_logits(path, &[1.0; 3]).expect_err("refused");
    let msg = e.to_string();
    assert!(
        msg.contains("posix.system") && msg.contains("evil_logits.pth"),
        "{msg}"
    );
    let bomb = c.write(
        "bomb_logits.pth",
        &checkpoint([vec![b'('; 100_000], vec![b't'; 100_000]].concat()),
    );
    let msg = load_official_logits(&bomb, &[1.0; 3])
        .expect_err("refused")
        .to_string();
    assert!(
        msg.contains("not a dict") && msg.contains("bomb_logits.pth"),
        "{msg}"
    );
}
