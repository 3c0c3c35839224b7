//! Type layouts from the linked image's DWARF, and typed reads of its memory.
//!
//! Why DWARF: the system descriptor is a Rust `static` whose layout (field order,
//! padding, enum tags and niches) is the compiler's choice, not the toolkit's. The
//! compiler that laid it out also described the layout in the debug information
//! (`[profile.release] debug = true`), so the checker reads the descriptor through that
//! description — the bytes the hypervisor reads, at the offsets its code uses — instead
//! of assuming a layout (as a debugger or Humility does).
//!
//! Only the DIEs that describe data are kept: structures, members, enums (variant parts
//! and enumerations), pointers and base types, with their namespace-qualified names.

use gimli::{AttributeValue, EndianSlice, LittleEndian, constants as dw};
use std::collections::HashMap;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// A kept debugging-information entry.
#[derive(Debug, Clone)]
struct Node {
    tag: gimli::DwTag,
    name: Option<String>,
    size: Option<u64>,
    member_offset: Option<u64>,
    ty: Option<usize>,
    discr: Option<usize>,
    discr_value: Option<u64>,
    const_value: Option<u64>,
    children: Vec<usize>,
}

/// The data types of an image, by `.debug_info` offset and by qualified name.
#[derive(Debug, Default)]
pub struct Types {
    nodes: HashMap<usize, Node>,
    named: HashMap<String, usize>,
}

fn kept(tag: gimli::DwTag) -> bool {
    matches!(
        tag,
        dw::DW_TAG_structure_type
            | dw::DW_TAG_member
            | dw::DW_TAG_variant_part
            | dw::DW_TAG_variant
            | dw::DW_TAG_enumeration_type
            | dw::DW_TAG_enumerator
            | dw::DW_TAG_pointer_type
            | dw::DW_TAG_base_type
            | dw::DW_TAG_typedef
    )
}

fn gerr(e: gimli::Error) -> String {
    format!("DWARF: {e}")
}

impl Types {
    /// Reads the type DIEs of every unit; `section` gives a section's bytes by name.
    pub fn load<'a>(section: impl Fn(&str) -> &'a [u8]) -> Result<Types, String> {
        let dwarf = gimli::Dwarf::load(|id: gimli::SectionId| -> Result<R<'a>, gimli::Error> {
            Ok(EndianSlice::new(section(id.name()), LittleEndian))
        })
        .map_err(gerr)?;
        let mut t = Types::default();
        let mut units = dwarf.units();
        while let Some(header) = units.next().map_err(gerr)? {
            let unit = dwarf.unit(header).map_err(gerr)?;
            t.load_unit(&dwarf, &unit)?;
        }
        if t.nodes.is_empty() {
            return Err("the image has no debug information (build with debug = true)".into());
        }
        Ok(t)
    }

    fn load_unit(&mut self, dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>) -> Result<(), String> {
        let mut tree = unit.entries_tree(None).map_err(gerr)?;
        let root = tree.root().map_err(gerr)?;
        let mut path = Vec::new();
        self.visit(dwarf, unit, root, &mut path, None)
    }

    /// Visits the children of `node`: namespaces are entered (their names form the
    /// path), data types are kept with their members, anything else (functions,
    /// variables, …) is skipped with its subtree.
    fn visit(
        &mut self,
        dwarf: &gimli::Dwarf<R>,
        unit: &gimli::Unit<R>,
        node: gimli::EntriesTreeNode<R>,
        path: &mut Vec<String>,
        parent: Option<usize>,
    ) -> Result<(), String> {
        let global = |o: gimli::UnitOffset| o.to_debug_info_offset(&unit.header).map(|g| g.0);
        let mut children = node.children();
        while let Some(child) = children.next().map_err(gerr)? {
            let e = child.entry();
            let tag = e.tag();
            if tag != dw::DW_TAG_namespace && !kept(tag) {
                continue;
            }
            let name = match e.attr_value(dw::DW_AT_name).map_err(gerr)? {
                Some(v) => Some(
                    dwarf
                        .attr_string(unit, v)
                        .map_err(gerr)?
                        .to_string_lossy()
                        .into_owned(),
                ),
                None => None,
            };
            if tag == dw::DW_TAG_namespace {
                path.push(name.unwrap_or_default());
                self.visit(dwarf, unit, child, path, None)?;
                path.pop();
                continue;
            }
            let Some(off) = global(e.offset()) else {
                continue;
            };
            let reference = |v: Option<AttributeValue<R>>| match v {
                Some(AttributeValue::UnitRef(o)) => global(o),
                Some(AttributeValue::DebugInfoRef(o)) => Some(o.0),
                _ => None,
            };
            let udata = |v: Option<AttributeValue<R>>| v.and_then(|v| v.udata_value());
            let node = Node {
                tag,
                size: udata(e.attr_value(dw::DW_AT_byte_size).map_err(gerr)?),
                member_offset: udata(e.attr_value(dw::DW_AT_data_member_location).map_err(gerr)?),
                ty: reference(e.attr_value(dw::DW_AT_type).map_err(gerr)?),
                discr: reference(e.attr_value(dw::DW_AT_discr).map_err(gerr)?),
                discr_value: udata(e.attr_value(dw::DW_AT_discr_value).map_err(gerr)?),
                const_value: e
                    .attr_value(dw::DW_AT_const_value)
                    .map_err(gerr)?
                    .and_then(|v| v.udata_value().or(v.sdata_value().map(|s| s as u64))),
                children: Vec::new(),
                name: name.clone(),
            };
            let declaration = e.attr_value(dw::DW_AT_declaration).map_err(gerr)?.is_some();
            let is_type = matches!(tag, dw::DW_TAG_structure_type | dw::DW_TAG_enumeration_type);
            if let Some(n) = &name
                && is_type
                && !declaration
                && node.size.is_some()
                && parent.is_none()
            {
                let mut q = path.clone();
                q.push(n.clone());
                self.named.entry(q.join("::")).or_insert(off);
            }
            if let Some(p) = parent.and_then(|p| self.nodes.get_mut(&p)) {
                p.children.push(off);
            }
            self.nodes.insert(off, node);
            self.visit(dwarf, unit, child, path, Some(off))?;
        }
        Ok(())
    }

    /// The type named `path` (e.g. `hv_core::sysdesc::SystemDesc`).
    pub fn named(&self, path: &str) -> Result<usize, String> {
        self.named
            .get(path)
            .copied()
            .ok_or_else(|| format!("DWARF: no type `{path}` in the image"))
    }

    fn node(&self, t: usize) -> Result<&Node, String> {
        self.nodes
            .get(&t)
            .ok_or_else(|| format!("DWARF: no type entry at {t:#x}"))
    }

    /// Follows typedefs.
    fn strip(&self, mut t: usize) -> Result<&Node, String> {
        loop {
            let n = self.node(t)?;
            match (n.tag, n.ty) {
                (dw::DW_TAG_typedef, Some(next)) => t = next,
                _ => return Ok(n),
            }
        }
    }

    fn type_name(&self, t: usize) -> String {
        self.node(t)
            .ok()
            .and_then(|n| n.name.clone())
            .unwrap_or_else(|| format!("<type {t:#x}>"))
    }

    /// Size in bytes of type `t`.
    pub fn size(&self, t: usize) -> Result<u64, String> {
        let n = self.strip(t)?;
        match n.tag {
            dw::DW_TAG_pointer_type => Ok(n.size.unwrap_or(8)),
            _ => n
                .size
                .ok_or_else(|| format!("DWARF: type {} has no size", self.type_name(t))),
        }
    }

    /// Offset and type of member `name` of structure `t`.
    pub fn member(&self, t: usize, name: &str) -> Result<(u64, usize), String> {
        let n = self.strip(t)?;
        for &c in &n.children {
            let m = self.node(c)?;
            if m.tag == dw::DW_TAG_member && m.name.as_deref() == Some(name) {
                let ty =
                    m.ty.ok_or_else(|| format!("DWARF: member {name} has no type"))?;
                return Ok((m.member_offset.unwrap_or(0), ty));
            }
        }
        Err(format!(
            "DWARF: {} has no member `{name}`",
            n.name.as_deref().unwrap_or("a structure")
        ))
    }
}

/// The image's memory as loaded (allocated sections; NOBITS read as zeros).
pub trait Memory {
    /// `len` bytes at virtual address `addr`, or why not.
    fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, String>;
}

/// A typed value in the image's memory.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    types: &'a Types,
    mem: &'a dyn Memory,
    /// Address of the first byte.
    pub addr: u64,
    ty: usize,
}

impl<'a> Value<'a> {
    /// The value of type `ty` at `addr`.
    pub fn new(types: &'a Types, mem: &'a dyn Memory, addr: u64, ty: usize) -> Self {
        Value {
            types,
            mem,
            addr,
            ty,
        }
    }

    /// Member `name` of this structure.
    pub fn field(&self, name: &str) -> Result<Value<'a>, String> {
        let (off, ty) = self.types.member(self.ty, name)?;
        Ok(Value {
            addr: self.addr + off,
            ty,
            ..*self
        })
    }

    fn raw_uint(&self, size: u64) -> Result<u64, String> {
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(format!(
                "DWARF: {}-byte value at {:#x} is not an integer",
                size, self.addr
            ));
        }
        let b = self.mem.read(self.addr, size)?;
        let mut w = [0u8; 8];
        w[..size as usize].copy_from_slice(&b);
        Ok(u64::from_le_bytes(w))
    }

    /// An unsigned integer (or pointer) of its own size.
    pub fn uint(&self) -> Result<u64, String> {
        self.raw_uint(self.types.size(self.ty)?)
    }

    /// A field read as an unsigned integer.
    pub fn u(&self, name: &str) -> Result<u64, String> {
        self.field(name)?.uint()
    }

    /// A field read as a `bool` (anything but 0 and 1 is an error).
    pub fn flag(&self, name: &str) -> Result<bool, String> {
        let f = self.field(name)?;
        match f.uint()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(format!("{name} at {:#x} is {v}, not a bool", f.addr)),
        }
    }

    /// The (data pointer, length) of a slice or `&str` field.
    fn fat(&self, name: &str) -> Result<(u64, u64, usize), String> {
        let f = self.field(name)?;
        let (_, ptr_ty) = self.types.member(f.ty, "data_ptr")?;
        let ptr = f.field("data_ptr")?.uint()?;
        let len = f.field("length")?.uint()?;
        let elem = self
            .types
            .strip(ptr_ty)?
            .ty
            .ok_or_else(|| format!("DWARF: {name}: untyped data pointer"))?;
        Ok((ptr, len, elem))
    }

    /// A `&str` field.
    pub fn string(&self, name: &str) -> Result<String, String> {
        let (ptr, len, _) = self.fat(name)?;
        if len > 4096 {
            return Err(format!("{name}: string of {len} bytes at {ptr:#x}"));
        }
        let b = self.mem.read(ptr, len)?;
        String::from_utf8(b).map_err(|_| format!("{name}: not UTF-8 at {ptr:#x}"))
    }

    /// The elements of a `&[T]` field.
    pub fn slice(&self, name: &str) -> Result<Vec<Value<'a>>, String> {
        let (ptr, len, elem) = self.fat(name)?;
        let stride = self.types.size(elem)?;
        if len > 1 << 16 {
            return Err(format!("{name}: slice of {len} elements at {ptr:#x}"));
        }
        Ok((0..len)
            .map(|i| Value {
                addr: ptr + i * stride,
                ty: elem,
                ..*self
            })
            .collect())
    }

    /// The active variant of an enum field: its name and, for a variant with one
    /// payload (`Some(x)`, `Ticks(n)`), the payload.
    pub fn variant(&self, name: &str) -> Result<(String, Option<Value<'a>>), String> {
        self.field(name)?.active(name)
    }

    /// The active variant of this enum value (`name` says what it is in errors).
    pub fn active(&self, name: &str) -> Result<(String, Option<Value<'a>>), String> {
        let f = *self;
        let t = self.types.strip(f.ty)?;
        if t.tag == dw::DW_TAG_enumeration_type {
            let v = f.raw_uint(t.size.unwrap_or(1))?;
            for &c in &t.children {
                let e = self.types.node(c)?;
                if e.tag == dw::DW_TAG_enumerator && e.const_value == Some(v) {
                    return Ok((e.name.clone().unwrap_or_default(), None));
                }
            }
            return Err(format!(
                "{name} at {:#x}: no enumerator has value {v}",
                f.addr
            ));
        }
        let part = t
            .children
            .iter()
            .filter_map(|c| self.types.node(*c).ok())
            .find(|n| n.tag == dw::DW_TAG_variant_part)
            .ok_or_else(|| format!("DWARF: {name} is not an enum"))?;
        let discr = part
            .discr
            .ok_or_else(|| format!("DWARF: {name}: variant part without a discriminant"))?;
        let dn = self.types.node(discr)?;
        let dty = dn.ty.ok_or("DWARF: untyped discriminant")?;
        let d = Value {
            addr: f.addr + dn.member_offset.unwrap_or(0),
            ty: dty,
            ..f
        }
        .uint()?;
        let variants: Vec<&Node> = part
            .children
            .iter()
            .filter_map(|c| self.types.node(*c).ok())
            .filter(|n| n.tag == dw::DW_TAG_variant)
            .collect();
        let chosen = variants
            .iter()
            .find(|v| v.discr_value == Some(d))
            .or_else(|| variants.iter().find(|v| v.discr_value.is_none()))
            .ok_or_else(|| format!("{name} at {:#x}: no variant has tag {d}", f.addr))?;
        let member = chosen
            .children
            .iter()
            .filter_map(|c| self.types.node(*c).ok())
            .find(|n| n.tag == dw::DW_TAG_member)
            .ok_or_else(|| format!("DWARF: {name}: empty variant"))?;
        let vname = member.name.clone().unwrap_or_default();
        let vty = member.ty.ok_or("DWARF: untyped variant")?;
        let inner = Value {
            addr: f.addr + member.member_offset.unwrap_or(0),
            ty: vty,
            ..f
        };
        let payload = self.types.member(vty, "__0").ok().map(|(off, ty)| Value {
            addr: inner.addr + off,
            ty,
            ..f
        });
        Ok((vname, payload))
    }
}
