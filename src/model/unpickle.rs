//! A restricted pickle reader for what `torch.save` writes.
//!
//! It parses, never interprets: nothing is imported or called. Every callable the stream names
//! — by `GLOBAL`, `STACK_GLOBAL`, `INST` or an extension code, wherever it appears, even if it
//! is later popped, buried under the result or passed as an argument — is checked against the
//! caller's allow-list at the opcode that names it, so a file that would run code under
//! `torch.load` is refused with that callable's name. `REDUCE`, `NEWOBJ` and `OBJ` may only
//! apply such a checked name.
//!
//! Values live in one arena and the stack and memo hold indices into it, so a memo reference
//! costs one index (a "billion laughs" memo bomb stays as small as its file), parsing never
//! recurses, dropping never recurses, and every length read from the stream is checked against
//! the bytes left before anything is allocated. The arena, stack and memo are bounded too.
//! Readers of the result ([`Pickle`]) walk it with their own depth limits.

use std::collections::HashMap;

/// An index into [`Pickle`]'s arena.
pub(crate) type NodeId = usize;

/// The most values one pickle may build (a state dict of 10,000 tensors needs ~200,000).
pub(crate) const MAX_NODES: usize = 1 << 22;
/// The longest text argument (`GLOBAL`, `INT`, …) read to its newline.
const MAX_LINE: usize = 1 << 16;
/// The longest integer kept (`LONG1`/`LONG4`); longer ones are refused, not allocated.
const MAX_LONG_BYTES: usize = 1 << 10;

/// One value the stream built.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    None,
    Bool(bool),
    Int(i64),
    /// An integer that does not fit in 64 bits (kept as its size only).
    BigInt,
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<NodeId>),
    Tuple(Vec<NodeId>),
    /// A dict, `OrderedDict` or `defaultdict`, in insertion order.
    Dict(Vec<(NodeId, NodeId)>),
    Set(Vec<NodeId>),
    /// An allow-listed callable or class, by name.
    Global {
        module: String,
        name: String,
    },
    /// `REDUCE`, `NEWOBJ`, `OBJ` or `INST`: `callable` (always a `Global`) applied to `args`
    /// (a `Tuple`), with the state a later `BUILD` gave it.
    Call {
        callable: NodeId,
        args: NodeId,
        state: Option<NodeId>,
    },
    /// A persistent id (torch: the storage a tensor views).
    Persistent(NodeId),
}

/// Why a pickle was not read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PickleError {
    /// It names a callable outside the allow-list (`module.name`).
    Refused(String),
    /// It is damaged, truncated, or uses what a checkpoint never needs; says where.
    Malformed(String),
}

/// What a parsed pickle built; `root` is what `STOP` returned.
#[derive(Debug)]
pub(crate) struct Pickle {
    nodes: Vec<Node>,
    root: NodeId,
}

impl Pickle {
    /// Parse `bytes`; `allowed(module, name)` decides which callables the stream may name.
    pub(crate) fn parse(
        bytes: &[u8],
        allowed: impl Fn(&str, &str) -> bool,
    ) -> Result<Pickle, PickleError> {
        let mut m = Machine {
            input: bytes,
            at: 0,
            op_at: 0,
            nodes: Vec::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            allowed: &allowed,
        };
        let root = m.run()?;
        Ok(Pickle {
            nodes: m.nodes,
            root,
        })
    }

    pub(crate) fn root(&self) -> NodeId {
        self.root
    }

    pub(crate) fn node(&self, id: NodeId) -> &Node {
        // Ids only come from this arena; a stray one reads as None rather than panicking.
        self.nodes.get(id).unwrap_or(&Node::None)
    }

    pub(crate) fn str(&self, id: NodeId) -> Option<&str> {
        match self.node(id) {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn int(&self, id: NodeId) -> Option<i64> {
        match self.node(id) {
            Node::Int(i) => Some(*i),
            Node::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub(crate) fn dict(&self, id: NodeId) -> Option<&[(NodeId, NodeId)]> {
        match self.node(id) {
            Node::Dict(kv) => Some(kv),
            _ => None,
        }
    }

    pub(crate) fn tuple(&self, id: NodeId) -> Option<&[NodeId]> {
        match self.node(id) {
            Node::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// `(module, name)` when `id` is a callable name.
    pub(crate) fn global(&self, id: NodeId) -> Option<(&str, &str)> {
        match self.node(id) {
            Node::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }

    /// A value's kind with its article ("a list", "an int"), for messages.
    pub(crate) fn kind(&self, id: NodeId) -> &'static str {
        kind(self.node(id))
    }
}

fn kind(n: &Node) -> &'static str {
    match n {
        Node::None => "None",
        Node::Bool(_) => "a bool",
        Node::Int(_) | Node::BigInt => "an int",
        Node::Float(_) => "a float",
        Node::Str(_) => "a str",
        Node::Bytes(_) => "bytes",
        Node::List(_) => "a list",
        Node::Tuple(_) => "a tuple",
        Node::Dict(_) => "a dict",
        Node::Set(_) => "a set",
        Node::Global { .. } => "a callable's name",
        Node::Call { .. } => "an object",
        Node::Persistent(_) => "a persistent id",
    }
}

struct Machine<'a, F: Fn(&str, &str) -> bool> {
    input: &'a [u8],
    at: usize,
    /// Where the current opcode starts, for messages.
    op_at: usize,
    nodes: Vec<Node>,
    stack: Vec<NodeId>,
    marks: Vec<usize>,
    memo: HashMap<u64, NodeId>,
    allowed: &'a F,
}

type Step<T> = Result<T, PickleError>;

impl<F: Fn(&str, &str) -> bool> Machine<'_, F> {
    fn bad<T>(&self, what: impl std::fmt::Display) -> Step<T> {
        Err(PickleError::Malformed(format!(
            "at byte {} of data.pkl: {what}",
            self.op_at
        )))
    }

    fn take(&mut self, n: usize) -> Step<&[u8]> {
        match self.at.checked_add(n).filter(|&e| e <= self.input.len()) {
            Some(end) => {
                let s = &self.input[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => self.bad(format!(
                "needs {n} bytes, {} are left (truncated?)",
                self.input.len() - self.at
            )),
        }
    }

    fn byte(&mut self) -> Step<u8> {
        Ok(self.take(1)?[0])
    }

    fn uint<const N: usize>(&mut self) -> Step<u64> {
        let b = self.take(N)?;
        let mut a = [0u8; 8];
        a[..N].copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length read from the stream, checked against the bytes left before any allocation.
    fn len<const N: usize>(&mut self) -> Step<usize> {
        let n = self.uint::<N>()?;
        let left = (self.input.len() - self.at) as u64;
        if n > left {
            return self.bad(format!("a length of {n} bytes, but only {left} are left"));
        }
        Ok(n as usize)
    }

    fn line(&mut self) -> Step<String> {
        let rest = &self.input[self.at..];
        let window = &rest[..rest.len().min(MAX_LINE)];
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            return self.bad("a text argument without its newline");
        };
        let s = String::from_utf8_lossy(&window[..end]).into_owned();
        self.at += end + 1;
        Ok(s)
    }

    fn push_node(&mut self, node: Node) -> Step<NodeId> {
        if self.nodes.len() >= MAX_NODES {
            return self.bad(format!("more than {MAX_NODES} values"));
        }
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    fn push(&mut self, node: Node) -> Step<()> {
        let id = self.push_node(node)?;
        self.stack.push(id);
        Ok(())
    }

    fn pop(&mut self) -> Step<NodeId> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return self.bad("pops an empty stack");
        }
        Ok(self.stack.pop().unwrap_or_default())
    }

    fn top(&self) -> Step<NodeId> {
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(&id) if self.stack.len() > floor => Ok(id),
            _ => self.bad("reads an empty stack"),
        }
    }

    /// The items pushed since the last MARK, which is removed.
    fn pop_mark(&mut self) -> Step<Vec<NodeId>> {
        let Some(mark) = self.marks.pop() else {
            return self.bad("no MARK before it");
        };
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn global(&mut self, module: String, name: String) -> Step<NodeId> {
        if !(self.allowed)(&module, &name) {
            return Err(PickleError::Refused(format!("{module}.{name}")));
        }
        self.push_node(Node::Global { module, name })
    }

    fn memo_put(&mut self, key: u64) -> Step<()> {
        let top = self.top()?;
        if self.memo.len() >= MAX_NODES && !self.memo.contains_key(&key) {
            return self.bad(format!("more than {MAX_NODES} memo entries"));
        }
        self.memo.insert(key, top);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Step<()> {
        match self.memo.get(&key) {
            Some(&id) => {
                self.stack.push(id);
                Ok(())
            }
            None => self.bad(format!("memo entry {key} was never stored")),
        }
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id]
    }

    /// `callable(*args)`, without calling anything: containers the allow-list names become
    /// containers (so later `SETITEMS` fill them), everything else a `Call`.
    fn apply(&mut self, callable: NodeId, args: NodeId, op: &str) -> Step<()> {
        let Node::Global { module, name } = &self.nodes[callable] else {
            let k = kind(&self.nodes[callable]);
            return self.bad(format!("{op} applies {k}, not a named callable"));
        };
        let node = match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") => Node::Dict(self.pairs_arg(args, 0)?),
            // defaultdict(factory[, items]): the factory was checked when it was named.
            ("collections", "defaultdict") => Node::Dict(self.pairs_arg(args, 1)?),
            _ => Node::Call {
                callable,
                args,
                state: None,
            },
        };
        self.push(node)
    }

    /// The `(key, value)` pairs in argument `index` of `args`, if there is one.
    fn pairs_arg(&self, args: NodeId, index: usize) -> Step<Vec<(NodeId, NodeId)>> {
        let Node::Tuple(items) = &self.nodes[args] else {
            return self.bad("a dict built from non-tuple arguments");
        };
        let Some(&source) = items.get(index) else {
            return Ok(Vec::new());
        };
        let seq = match &self.nodes[source] {
            Node::List(v) | Node::Tuple(v) => v,
            Node::Dict(kv) => return Ok(kv.clone()),
            other => return self.bad(format!("a dict built from {}", kind(other))),
        };
        seq.iter()
            .map(|&p| match &self.nodes[p] {
                Node::Tuple(kv) | Node::List(kv) if kv.len() == 2 => Ok((kv[0], kv[1])),
                _ => self.bad("a dict built from something other than pairs"),
            })
            .collect()
    }

    fn run(&mut self) -> Step<NodeId> {
        loop {
            self.op_at = self.at;
            let op = match self.input.get(self.at) {
                Some(&b) => b,
                None => return self.bad("the stream ends without STOP (truncated?)"),
            };
            self.at += 1;
            match op {
                b'.' => return self.stop(),
                0x80 => {
                    let v = self.byte()?;
                    if v > 5 {
                        return self.bad(format!("unknown pickle protocol {v}"));
                    }
                }
                0x95 => {
                    self.uint::<8>()?; // FRAME: a length hint only
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(top);
                }
                b'N' => self.push(Node::None)?,
                0x88 => self.push(Node::Bool(true))?,
                0x89 => self.push(Node::Bool(false))?,
                b'J' => {
                    let v = self.uint::<4>()? as u32 as i32;
                    self.push(Node::Int(v as i64))?
                }
                b'K' => {
                    let v = self.uint::<1>()?;
                    self.push(Node::Int(v as i64))?
                }
                b'M' => {
                    let v = self.uint::<2>()?;
                    self.push(Node::Int(v as i64))?
                }
                0x8a => {
                    let n = self.len::<1>()?;
                    self.long(n)?
                }
                0x8b => {
                    let n = self.len::<4>()?;
                    if n > MAX_LONG_BYTES {
                        return self.bad(format!("a {n}-byte integer"));
                    }
                    self.long(n)?
                }
                b'I' | b'L' => {
                    let text = self.line()?;
                    let t = text.trim_end_matches('L');
                    let node = match t {
                        "00" => Node::Bool(false),
                        "01" => Node::Bool(true),
                        _ => match t.parse::<i64>() {
                            Ok(v) => Node::Int(v),
                            Err(_) if t.bytes().all(|b| b.is_ascii_digit() || b == b'-') => {
                                Node::BigInt
                            }
                            Err(_) => return self.bad(format!("'{t}' is not an integer")),
                        },
                    };
                    self.push(node)?
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.uint::<8>()?.to_le_bytes());
                    self.push(Node::Float(v))?
                }
                b'F' => {
                    let text = self.line()?;
                    match text.trim().parse::<f64>() {
                        Ok(v) => self.push(Node::Float(v))?,
                        Err(_) => return self.bad(format!("'{text}' is not a float")),
                    }
                }
                b'X' => {
                    let n = self.len::<4>()?;
                    self.string(n)?
                }
                0x8c => {
                    let n = self.len::<1>()?;
                    self.string(n)?
                }
                0x8d => {
                    let n = self.len::<8>()?;
                    self.string(n)?
                }
                b'T' => {
                    let n = self.len::<4>()?;
                    self.string(n)?
                }
                b'U' => {
                    let n = self.len::<1>()?;
                    self.string(n)?
                }
                b'B' => {
                    let n = self.len::<4>()?;
                    self.bytes(n)?
                }
                b'C' => {
                    let n = self.len::<1>()?;
                    self.bytes(n)?
                }
                0x8e | 0x96 => {
                    let n = self.len::<8>()?;
                    self.bytes(n)?
                }
                b'S' | b'V' => {
                    let text = self.line()?;
                    let t = text.trim();
                    let t = t
                        .strip_prefix(['\'', '"'])
                        .and_then(|t| t.strip_suffix(['\'', '"']))
                        .unwrap_or(t);
                    self.push(Node::Str(t.to_string()))?
                }
                b']' => self.push(Node::List(Vec::new()))?,
                b')' => self.push(Node::Tuple(Vec::new()))?,
                b'}' => self.push(Node::Dict(Vec::new()))?,
                0x8f => self.push(Node::Set(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items))?
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::Set(items))?
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Node::Tuple(items))?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.push(Node::Dict(pairs))?
                }
                b'a' => {
                    let v = self.pop()?;
                    self.extend(vec![v])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.extend(items)?
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    match self.node_mut(target) {
                        Node::Set(s) => s.extend(items),
                        _ => return self.bad("ADDITEMS to something that is not a set"),
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![(k, v)])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.set_items(pairs)?
                }
                b'p' => {
                    let text = self.line()?;
                    match text.trim().parse::<u64>() {
                        Ok(k) => self.memo_put(k)?,
                        Err(_) => return self.bad(format!("memo key '{text}'")),
                    }
                }
                b'q' => {
                    let k = self.uint::<1>()?;
                    self.memo_put(k)?
                }
                b'r' => {
                    let k = self.uint::<4>()?;
                    self.memo_put(k)?
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?
                }
                b'g' => {
                    let text = self.line()?;
                    match text.trim().parse::<u64>() {
                        Ok(k) => self.memo_get(k)?,
                        Err(_) => return self.bad(format!("memo key '{text}'")),
                    }
                }
                b'h' => {
                    let k = self.uint::<1>()?;
                    self.memo_get(k)?
                }
                b'j' => {
                    let k = self.uint::<4>()?;
                    self.memo_get(k)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let id = self.global(module, name)?;
                    self.stack.push(id)
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Node::Str(m), Node::Str(n)) = (&self.nodes[module], &self.nodes[name])
                    else {
                        return self.bad("STACK_GLOBAL names a callable with non-strings");
                    };
                    let (m, n) = (m.clone(), n.clone());
                    let id = self.global(m, n)?;
                    self.stack.push(id)
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let callable = self.global(module, name)?;
                    let items = self.pop_mark()?;
                    let args = self.push_node(Node::Tuple(items))?;
                    self.apply(callable, args, "INST")?
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return self.bad("OBJ without a class");
                    }
                    let callable = items.remove(0);
                    let args = self.push_node(Node::Tuple(items))?;
                    self.apply(callable, args, "OBJ")?
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    if !matches!(self.nodes[args], Node::Tuple(_)) {
                        return self.bad("REDUCE with arguments that are not a tuple");
                    }
                    self.apply(callable, args, "REDUCE")?
                }
                0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.apply(callable, args, "NEWOBJ")?
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.apply(callable, args, "NEWOBJ_EX")?
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    // A dict's state is its attributes (torch: `_metadata`), not its items.
                    if let Node::Call { state: s, .. } = self.node_mut(target) {
                        *s = Some(state);
                    }
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push(Node::Persistent(id))?
                }
                b'P' => {
                    let text = self.line()?;
                    let id = self.push_node(Node::Str(text))?;
                    self.push(Node::Persistent(id))?
                }
                0x82..=0x84 => {
                    return Err(PickleError::Refused(
                        "a callable from the copyreg extension registry (EXT opcode)".into(),
                    ))
                }
                0x97 | 0x98 => return self.bad("out-of-band buffers (pickle protocol 5)"),
                other => return self.bad(format!("unknown opcode 0x{other:02x}")),
            }
        }
    }

    fn stop(&mut self) -> Step<NodeId> {
        match self.stack.pop() {
            Some(id) => Ok(id),
            None => self.bad("STOP with an empty stack"),
        }
    }

    fn long(&mut self, n: usize) -> Step<()> {
        let b = self.take(n)?;
        let node = if n <= 8 {
            let fill = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                0xff
            } else {
                0
            };
            let mut a = [fill; 8];
            a[..n].copy_from_slice(b);
            Node::Int(i64::from_le_bytes(a))
        } else {
            Node::BigInt
        };
        self.push(node)
    }

    fn string(&mut self, n: usize) -> Step<()> {
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.push(Node::Str(s))
    }

    fn bytes(&mut self, n: usize) -> Step<()> {
        let b = self.take(n)?.to_vec();
        self.push(Node::Bytes(b))
    }

    fn pairs(&self, items: Vec<NodeId>) -> Step<Vec<(NodeId, NodeId)>> {
        if !items.len().is_multiple_of(2) {
            return self.bad("a dict with an odd number of keys and values");
        }
        Ok(items.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect())
    }

    fn extend(&mut self, items: Vec<NodeId>) -> Step<()> {
        let target = self.top()?;
        match self.node_mut(target) {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            _ => self.bad("APPEND to something that is not a list"),
        }
    }

    fn set_items(&mut self, pairs: Vec<(NodeId, NodeId)>) -> Step<()> {
        let target = self.top()?;
        match self.node_mut(target) {
            Node::Dict(kv) => {
                kv.extend(pairs);
                Ok(())
            }
            _ => self.bad("SETITEM on something that is not a dict"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &str, _: &str) -> bool {
        true
    }

    #[test]
    fn a_small_protocol_2_dict() {
        // pickle.dumps({'a': 1, 'b': [2.5, None]}, protocol=2)
        let bytes = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(G@\x04\x00\x00\x00\x00\x00\x00Neu.";
        let p = Pickle::parse(bytes, any).expect("parses");
        let kv = p.dict(p.root()).expect("a dict");
        assert_eq!(kv.len(), 2);
        assert_eq!(p.str(kv[0].0), Some("a"));
        assert_eq!(p.int(kv[0].1), Some(1));
        match p.node(kv[1].1) {
            Node::List(v) => {
                assert_eq!(p.node(v[0]), &Node::Float(2.5));
                assert_eq!(p.node(v[1]), &Node::None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_callable_is_refused_where_it_is_named_even_if_discarded() {
        // GLOBAL posix.system, POP, then an innocent empty dict.
        let bytes = b"\x80\x02cposix\nsystem\n0}.";
        let e = Pickle::parse(bytes, |m, _| m == "collections").unwrap_err();
        assert_eq!(e, PickleError::Refused("posix.system".into()));
    }

    #[test]
    fn reduce_of_something_unnamed_is_malformed() {
        let bytes = b"\x80\x02X\x01\x00\x00\x00a)R.";
        let e = Pickle::parse(bytes, any).unwrap_err();
        assert!(matches!(e, PickleError::Malformed(m) if m.contains("not a named callable")));
    }

    #[test]
    fn lengths_past_the_end_are_refused_before_allocating() {
        let bytes = b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.";
        let e = Pickle::parse(bytes, any).unwrap_err();
        assert!(matches!(e, PickleError::Malformed(m) if m.contains("only 1 are left")));
    }

    #[test]
    fn a_memo_bomb_stays_small() {
        // ]q0 then 60 × (h0 h0 \x86 q0): each level is a pair of the previous one.
        let mut b = b"\x80\x02]q\x00".to_vec();
        for _ in 0..60 {
            b.extend_from_slice(b"h\x00h\x00\x86q\x00");
        }
        b.push(b'.');
        let p = Pickle::parse(&b, any).expect("parses");
        assert!(p.nodes.len() < 100);
    }
}
