//! `Debug` output that reads like Node's `util.inspect`, on one line.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write};
use std::sync::Arc;

use super::object::Key;
use super::string::write_quoted;
use super::{
    ArrayBufferView, JsArray, JsArrayBuffer, JsError, JsMap, JsObject, JsSet, Primitive, Value,
    ViewKind,
};

/// Buffer and ArrayBuffer bytes shown before `... N more bytes` (as Node).
const MAX_BYTES: usize = 50;
/// Typed-array elements shown before `... N more items` (as Node).
const MAX_ITEMS: usize = 100;
/// Nodes printed for the second and later occurrences of shared objects,
/// in total. Node prints repeats in full; so do we, until this runs out
/// (then `[Object]`, as Node prints what is too deep): a peer can send a
/// small message whose full expansion is exponential.
const REPEAT_BUDGET: usize = 10_000;

/// Prints one value without recursing: what is left to print waits on a
/// stack of tasks. Knows the enclosing objects (for `[Circular *n]`), the
/// objects that cycles point at (found by a first pass, for `<ref *n>`),
/// and which shared objects were already printed.
struct Printer<'v> {
    tasks: Vec<Task<'v>>,
    ancestors: Vec<*const ()>,
    refs: HashMap<*const (), usize>,
    printed: HashSet<*const ()>,
    budget: usize,
    repeating: usize,
}

enum Task<'v> {
    Value(&'v Value),
    Text(&'static str),
    Key(Key<'v>),
    Holes(usize),
    /// The end of a container: it stops being an ancestor.
    Leave {
        repeat: bool,
    },
}

/// One entry of a container, printed between `, `.
enum Entry<'v> {
    Item(&'v Value),
    Holes(usize),
    Prop(Key<'v>, &'v Value),
    Pair(&'v Value, &'v Value),
}

/// A JS number as `util.inspect` prints it (`-0`, `1e+21`, `NaN`).
fn write_number(f: &mut impl Write, n: f64) -> fmt::Result {
    if n == 0.0 && n.is_sign_negative() {
        return f.write_str("-0");
    }
    f.write_str(ryu_js::Buffer::new().format(n))
}

/// The objects that may enclose others, and so be cycle targets.
fn container_ptr(v: &Value) -> Option<*const ()> {
    match v {
        Value::Array(_) | Value::Object(_) | Value::Map(_) | Value::Set(_) | Value::Error(_) => {
            v.object_ptr()
        }
        _ => None,
    }
}

/// The values directly inside a container, in order.
fn children(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.keys_and_values().map(|(_, v)| v).collect(),
        Value::Object(o) => o.iter().map(|(_, v)| v).collect(),
        Value::Map(m) => m.entries().iter().flat_map(|(k, v)| [k, v]).collect(),
        Value::Set(s) => s.values().iter().collect(),
        Value::Error(e) => e.cause.iter().collect(),
        _ => Vec::new(),
    }
}

/// First pass: numbers the objects that `Circular` markers point at, in
/// the order they are found (visiting each object once).
fn find_refs(root: &Value) -> HashMap<*const (), usize> {
    enum Step<'v> {
        Visit(&'v Value),
        Leave,
    }
    let mut refs = HashMap::new();
    let mut seen = HashSet::new();
    let mut ancestors = Vec::new();
    let mut steps = vec![Step::Visit(root)];
    while let Some(step) = steps.pop() {
        match step {
            Step::Leave => {
                ancestors.pop();
            }
            Step::Visit(Value::Circular(n)) => {
                let target = ancestors.len().checked_sub(1 + *n as usize);
                if let Some(&p) = target.and_then(|i| ancestors.get(i)) {
                    let next = refs.len() + 1;
                    refs.entry(p).or_insert(next);
                }
            }
            Step::Visit(v) => {
                if let Some(p) = container_ptr(v)
                    && seen.insert(p)
                {
                    ancestors.push(p);
                    steps.push(Step::Leave);
                    steps.extend(children(v).into_iter().rev().map(Step::Visit));
                }
            }
        }
    }
    refs
}

impl<'v> Printer<'v> {
    fn new(root: &'v Value) -> Self {
        Printer {
            tasks: vec![Task::Value(root)],
            ancestors: Vec::new(),
            refs: find_refs(root),
            printed: HashSet::new(),
            budget: REPEAT_BUDGET,
            repeating: 0,
        }
    }

    fn run(&mut self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        while let Some(task) = self.tasks.pop() {
            match task {
                Task::Value(v) => self.value(f, v)?,
                Task::Text(s) => f.write_str(s)?,
                Task::Key(k) => write!(f, "{k:?}: ")?,
                Task::Holes(1) => f.write_str("<1 empty item>")?,
                Task::Holes(n) => write!(f, "<{n} empty items>")?,
                Task::Leave { repeat } => {
                    self.ancestors.pop();
                    self.repeating -= usize::from(repeat);
                }
            }
        }
        Ok(())
    }

    fn value(&mut self, f: &mut fmt::Formatter<'_>, v: &'v Value) -> fmt::Result {
        if self.repeating > 0 {
            self.budget = self.budget.saturating_sub(1);
        }
        match v {
            Value::Undefined => f.write_str("undefined"),
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) | Value::Double(n) => write_number(f, *n),
            Value::BigInt(n) => write!(f, "{n:?}"),
            Value::String(s) => write_quoted(f, s),
            Value::Date(d) => write!(f, "{d:?}"),
            Value::RegExp(r) => write!(f, "{r:?}"),
            Value::Boxed(p) => write_boxed(f, p),
            Value::ArrayBuffer(b) => write_array_buffer(f, b),
            Value::View(view) => write_view(f, view),
            Value::Circular(n) => {
                let target = self.ancestors.len().checked_sub(1 + *n as usize);
                match target.and_then(|i| self.refs.get(&self.ancestors[i])) {
                    Some(r) => write!(f, "[Circular *{r}]"),
                    None => f.write_str("[Circular]"),
                }
            }
            Value::Array(_)
            | Value::Object(_)
            | Value::Map(_)
            | Value::Set(_)
            | Value::Error(_) => self.container(f, v),
        }
    }

    fn container(&mut self, f: &mut fmt::Formatter<'_>, v: &'v Value) -> fmt::Result {
        let p = container_ptr(v).expect("a container");
        let shared = match v {
            Value::Array(a) => Arc::strong_count(a) > 1,
            Value::Object(a) => Arc::strong_count(a) > 1,
            Value::Map(a) => Arc::strong_count(a) > 1,
            Value::Set(a) => Arc::strong_count(a) > 1,
            Value::Error(a) => Arc::strong_count(a) > 1,
            _ => false,
        };
        let repeat = shared && !self.printed.insert(p);
        if repeat && self.budget == 0 {
            return f.write_str(match v {
                Value::Array(_) => "[Array]",
                Value::Map(_) => "[Map]",
                Value::Set(_) => "[Set]",
                Value::Error(_) => "[Error]",
                _ => "[Object]",
            });
        }
        if let Some(r) = self.refs.get(&p) {
            write!(f, "<ref *{r}> ")?;
        }
        self.repeating += usize::from(repeat);
        self.ancestors.push(p);
        self.tasks.push(Task::Leave { repeat });
        match v {
            Value::Array(a) => self.list(f, ("[ ", " ]", "[]"), array_entries(a)),
            Value::Object(o) => {
                let entries = o.iter().map(|(k, v)| Entry::Prop(k, v)).collect();
                self.list(f, ("{ ", " }", "{}"), entries)
            }
            Value::Map(m) => {
                write!(f, "Map({}) ", m.len())?;
                let entries = m.entries().iter().map(|(k, v)| Entry::Pair(k, v)).collect();
                self.list(f, ("{ ", " }", "{}"), entries)
            }
            Value::Set(s) => {
                write!(f, "Set({}) ", s.len())?;
                let entries = s.values().iter().map(Entry::Item).collect();
                self.list(f, ("{ ", " }", "{}"), entries)
            }
            Value::Error(e) => self.error(f, e),
            _ => Ok(()),
        }
    }

    /// Writes `open`, and queues the entries between `, ` and `close`; or
    /// writes `empty`.
    fn list(
        &mut self,
        f: &mut fmt::Formatter<'_>,
        (open, close, empty): (&str, &'static str, &str),
        entries: Vec<Entry<'v>>,
    ) -> fmt::Result {
        if entries.is_empty() {
            return f.write_str(empty);
        }
        f.write_str(open)?;
        self.tasks.push(Task::Text(close));
        for (i, e) in entries.into_iter().enumerate().rev() {
            match e {
                Entry::Item(v) => self.tasks.push(Task::Value(v)),
                Entry::Holes(n) => self.tasks.push(Task::Holes(n)),
                Entry::Prop(k, v) => self.tasks.extend([Task::Value(v), Task::Key(k)]),
                Entry::Pair(k, v) => {
                    self.tasks
                        .extend([Task::Value(v), Task::Text(" => "), Task::Value(k)]);
                }
            }
            if i > 0 {
                self.tasks.push(Task::Text(", "));
            }
        }
        Ok(())
    }

    fn error(&mut self, f: &mut fmt::Formatter<'_>, e: &'v JsError) -> fmt::Result {
        match (&e.stack, &e.message) {
            (Some(stack), _) => write!(f, "{stack}")?,
            (None, Some(m)) if !m.is_empty() => write!(f, "[{}: {m}]", e.name.as_str())?,
            (None, _) => write!(f, "[{}]", e.name.as_str())?,
        }
        if let Some(cause) = &e.cause {
            f.write_str(" { [cause]: ")?;
            self.tasks.extend([Task::Text(" }"), Task::Value(cause)]);
        }
        Ok(())
    }
}

/// An array's elements, runs of holes, and named properties.
fn array_entries(a: &JsArray) -> Vec<Entry<'_>> {
    let mut entries = Vec::new();
    let mut next = 0;
    for (i, v) in a.elements() {
        if i > next {
            entries.push(Entry::Holes(i - next));
        }
        entries.push(Entry::Item(v));
        next = i + 1;
    }
    if a.len() > next {
        entries.push(Entry::Holes(a.len() - next));
    }
    entries.extend(a.properties().map(|(k, v)| Entry::Prop(Key::Name(k), v)));
    entries
}

fn write_boxed(f: &mut fmt::Formatter<'_>, p: &Primitive) -> fmt::Result {
    match p {
        Primitive::Boolean(b) => write!(f, "[Boolean: {b}]"),
        Primitive::Number(n) => {
            f.write_str("[Number: ")?;
            write_number(f, *n)?;
            f.write_str("]")
        }
        Primitive::BigInt(n) => write!(f, "[BigInt: {n:?}]"),
        Primitive::String(s) => write!(f, "[String: {s:?}]"),
    }
}

fn write_hex_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let shown = &bytes[..bytes.len().min(MAX_BYTES)];
    for (i, b) in shown.iter().enumerate() {
        write!(f, "{}{b:02x}", if i == 0 { "" } else { " " })?;
    }
    if bytes.len() > MAX_BYTES {
        write!(f, " ... {} more bytes", bytes.len() - MAX_BYTES)?;
    }
    Ok(())
}

fn write_array_buffer(f: &mut fmt::Formatter<'_>, b: &JsArrayBuffer) -> fmt::Result {
    f.write_str("ArrayBuffer { [Uint8Contents]: <")?;
    write_hex_bytes(f, b.bytes())?;
    write!(f, ">, byteLength: {} }}", b.bytes().len())
}

fn write_view(f: &mut fmt::Formatter<'_>, v: &ArrayBufferView) -> fmt::Result {
    match v.kind() {
        ViewKind::Buffer => {
            f.write_str("<Buffer ")?;
            write_hex_bytes(f, v.bytes())?;
            f.write_str(">")
        }
        ViewKind::DataView => {
            let n = v.bytes().len();
            write!(f, "DataView {{ byteLength: {n}, byteOffset: 0, buffer: ")?;
            write_array_buffer(f, &JsArrayBuffer::new(v.bytes().clone()))?;
            f.write_str(" }")
        }
        kind => {
            write!(f, "{}({}) ", kind.name(), v.len())?;
            let shown = v.len().min(MAX_ITEMS);
            for i in 0..shown {
                f.write_str(if i == 0 { "[ " } else { ", " })?;
                match (v.number(i), v.bigint(i)) {
                    (Some(n), _) => write_number(f, n)?,
                    (None, Some(n)) => write!(f, "{n}n")?,
                    (None, None) => {}
                }
            }
            if v.len() > MAX_ITEMS {
                write!(f, ", ... {} more items", v.len() - MAX_ITEMS)?;
            }
            f.write_str(if shown == 0 { "[]" } else { " ]" })
        }
    }
}

impl fmt::Debug for Value {
    /// Like Node's `util.inspect(value, { depth: Infinity })`, on one line:
    /// `{ a: 1, b: [ 'x' ] }`, `Map(1) { 'k' => 1 }`, `<Buffer 01 02>`,
    /// `<ref *1> { self: [Circular *1] }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer::new(self).run(f)
    }
}

macro_rules! debug_as_value {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            /// As the [`Value`] holding it prints.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&Value::from(self.clone()), f)
            }
        }
    )*};
}
debug_as_value!(
    JsArray,
    JsObject,
    JsMap,
    JsSet,
    JsError,
    Primitive,
    JsArrayBuffer,
    ArrayBufferView
);

#[cfg(test)]
mod tests {
    use super::super::{ErrorName, JsString};
    use super::*;

    fn show(v: impl Into<Value>) -> String {
        format!("{:?}", v.into())
    }

    #[test]
    fn primitives_print_like_js() {
        assert_eq!(show(-0.0), "-0");
        assert_eq!(show(1e21), "1e+21");
        assert_eq!(show(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(show(Value::Undefined), "undefined");
        assert_eq!(show(Value::Double(2.0)), "2");
        assert_eq!(show(super::super::BigInt::from(-5)), "-5n");
    }

    #[test]
    fn containers_print_like_util_inspect() {
        let mut arr = JsArray::holey(6);
        arr.set(0, 1);
        arr.set(2, 3);
        arr.insert_property("p", 3);
        assert_eq!(show(arr), "[ 1, <1 empty item>, 3, <3 empty items>, p: 3 ]");
        let m: JsMap = [("k", 1)].into_iter().collect();
        assert_eq!(show(m), "Map(1) { 'k' => 1 }");
        assert_eq!(show(JsSet::new()), "Set(0) {}");
        assert_eq!(
            show(Value::object([("1", "a"), ("a-b", "c")])),
            "{ '1': 'a', 'a-b': 'c' }"
        );
        assert_eq!(show(JsArray::new()), "[]");
        assert_eq!(
            show(Primitive::String(JsString::from("s"))),
            "[String: 's']"
        );
        assert_eq!(show(Primitive::Number(-0.0)), "[Number: -0]");
    }

    #[test]
    fn buffers_print_like_node_and_are_truncated() {
        assert_eq!(show(Value::buffer(vec![1, 2])), "<Buffer 01 02>");
        assert_eq!(show(Value::buffer(Vec::new())), "<Buffer >");
        assert!(show(Value::buffer(vec![0; 60])).ends_with("00 ... 10 more bytes>"));
        let v = ArrayBufferView::new(ViewKind::Uint8Array, vec![0; 120]).unwrap();
        assert!(show(v).ends_with("0, ... 20 more items ]"));
        let d = ArrayBufferView::new(ViewKind::DataView, vec![0, 0]).unwrap();
        assert_eq!(
            show(d),
            "DataView { byteLength: 2, byteOffset: 0, buffer: ArrayBuffer { [Uint8Contents]: <00 00>, byteLength: 2 } }"
        );
    }

    #[test]
    fn cycles_print_with_refs() {
        let c = Value::object([("name", Value::from("c")), ("self", Value::Circular(0))]);
        assert_eq!(show(c), "<ref *1> { name: 'c', self: [Circular *1] }");
        let inner = Value::array([Value::Circular(1)]);
        assert_eq!(
            show(Value::object([("a", inner)])),
            "<ref *1> { a: [ [Circular *1] ] }"
        );
    }

    #[test]
    fn errors_print_stack_or_name_and_cause() {
        let e = JsError {
            name: ErrorName::TypeError,
            message: Some("bad".into()),
            cause: Some(Value::from(1)),
            ..JsError::default()
        };
        assert_eq!(show(e), "[TypeError: bad] { [cause]: 1 }");
    }

    #[test]
    fn deep_values_print_without_recursion() {
        let mut v = Value::Null;
        for i in 0..100_000 {
            v = match i % 3 {
                0 => Value::array([v]),
                1 => Value::object([("k", v)]),
                _ => JsMap::from(vec![(Value::Null, v)]).into(),
            };
        }
        let s = show(v);
        assert!(s.starts_with("[ Map(1) { null => { k: [ Map(1) {") && s.ends_with("} } ]"));
    }

    #[test]
    fn exponential_sharing_prints_in_bounded_time() {
        let mut v = Value::array([1]);
        for _ in 0..64 {
            v = Value::array([v.clone(), v]);
        }
        let s = show(v);
        assert!(s.contains("[Array]") && s.len() < 1_000_000, "{}", s.len());
    }
}
