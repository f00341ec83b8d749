//! A byte-for-byte imitation of torch's zip writer, `PyTorchStreamWriter`
//! (caffe2/serialize/inline_container.cc) on top of miniz, as `torch.save` drives it
//! (torch/serialization.py `_save`): so tests can write the archives torch writes, for any
//! file stem, without torch.
//!
//! What torch writes, read off its source and checked against the committed `fixtures/torch`
//! files: every record is `<archive>/<name>`, stored, with general-purpose flags 0x0808 (sizes
//! in a data descriptor after the data, UTF-8 name; 0x0800 and no descriptor for an empty
//! record), zeros for version, time and date, and a
//! local extra field `FB` + 2-byte length + that many `Z`s that pads the data to a 64-byte
//! boundary (`detail::getPadding`). When the data is already aligned the field is still
//! written, with an empty payload: `FB\0\0`. The central directory carries no extra fields;
//! miniz's `MZ_ZIP_FLAG_WRITE_ZIP64` adds a zip64 end record and locator before the classic
//! end record.

/// torch's `kFieldAlignment`.
const ALIGNMENT: usize = 64;

/// Writes a torch-style zip archive in memory.
pub struct TorchZipWriter {
    archive: String,
    out: Vec<u8>,
    central: Vec<u8>,
    count: u64,
}

impl TorchZipWriter {
    /// `archive` is the top folder: torch uses the file stem (`basename` without the last
    /// extension) when saving to a path, `archive` when saving to a buffer.
    pub fn new(archive: &str) -> TorchZipWriter {
        TorchZipWriter {
            archive: archive.to_owned(),
            out: Vec::new(),
            central: Vec::new(),
            count: 0,
        }
    }

    /// `writeRecord(name, data)`: the member `<archive>/<name>`.
    pub fn record(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let full = format!("{}/{name}", self.archive);
        self.raw(&full, data)
    }

    /// A member under exactly this name (for archives torch would not write itself).
    pub fn raw(&mut self, full_name: &str, data: &[u8]) -> &mut Self {
        let cursor = self.out.len();
        // getPadding: the data would start after the fixed header, the name and the 4 bytes
        // of the FB field's own header.
        let start = cursor + 30 + full_name.len() + 4;
        let padding = (ALIGNMENT - start % ALIGNMENT) % ALIGNMENT;
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let crc = crc.sum();
        let size = u32::try_from(data.len()).expect("test archives stay below 4 GiB");
        let name = full_name.as_bytes();
        let name_len = u16::try_from(name.len()).expect("name length");
        let extra_len = u16::try_from(padding + 4).expect("padding");
        // miniz writes no data descriptor for an empty record (its sizes and CRC are zero).
        let flags: u16 = if data.is_empty() { 0x0800 } else { 0x0808 };
        // Local header: sizes and CRC are zero, they follow the data (flag bit 3).
        self.out.extend_from_slice(b"PK\x03\x04");
        self.out.extend_from_slice(&0u16.to_le_bytes()); // version needed
        self.out.extend_from_slice(&flags.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        self.out.extend_from_slice(&[0; 4]); // time, date
        self.out.extend_from_slice(&[0; 12]); // crc, compressed, uncompressed
        self.out.extend_from_slice(&name_len.to_le_bytes());
        self.out.extend_from_slice(&extra_len.to_le_bytes());
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b"FB");
        self.out
            .extend_from_slice(&u16::try_from(padding).unwrap().to_le_bytes());
        self.out.extend(std::iter::repeat_n(b'Z', padding));
        assert_eq!(self.out.len() % ALIGNMENT, 0, "torch aligns every record");
        self.out.extend_from_slice(data);
        if !data.is_empty() {
            self.out.extend_from_slice(b"PK\x07\x08");
            self.out.extend_from_slice(&crc.to_le_bytes());
            self.out.extend_from_slice(&size.to_le_bytes());
            self.out.extend_from_slice(&size.to_le_bytes());
        }
        // Central directory entry.
        self.central.extend_from_slice(b"PK\x01\x02");
        self.central.extend_from_slice(&0u16.to_le_bytes()); // made by
        self.central.extend_from_slice(&0u16.to_le_bytes()); // needed
        self.central.extend_from_slice(&flags.to_le_bytes());
        self.central.extend_from_slice(&0u16.to_le_bytes());
        self.central.extend_from_slice(&[0; 4]);
        self.central.extend_from_slice(&crc.to_le_bytes());
        self.central.extend_from_slice(&size.to_le_bytes());
        self.central.extend_from_slice(&size.to_le_bytes());
        self.central.extend_from_slice(&name_len.to_le_bytes());
        // extra, comment, disk, internal attributes, external attributes
        self.central.extend_from_slice(&[0; 12]);
        self.central
            .extend_from_slice(&u32::try_from(cursor).unwrap().to_le_bytes());
        self.central.extend_from_slice(name);
        self.count += 1;
        self
    }

    /// `writeEndOfFile` after the records: the central directory, then miniz's zip64 end
    /// record and locator, then the classic end record.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        let cd_start = out.len() as u64;
        let cd_len = self.central.len() as u64;
        out.extend_from_slice(&self.central);
        let eocd64 = out.len() as u64;
        out.extend_from_slice(b"PK\x06\x06");
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&0x031eu16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // this disk, disk with the central directory
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&cd_len.to_le_bytes());
        out.extend_from_slice(&cd_start.to_le_bytes());
        out.extend_from_slice(b"PK\x06\x07");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&eocd64.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        let count = u16::try_from(self.count).unwrap();
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&u32::try_from(cd_len).unwrap().to_le_bytes());
        out.extend_from_slice(&u32::try_from(cd_start).unwrap().to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }
}

/// The archive `torch.save(obj, "<stem>.pt")` writes (torch 2.x `_save`): `data.pkl`, the
/// format records, `byteorder`, the storages `data/<key>` in key order, then `version` and
/// `.data/serialization_id` from `writeEndOfFile`.
pub fn torch_save(stem: &str, data_pkl: &[u8], storages: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = TorchZipWriter::new(stem);
    w.record("data.pkl", data_pkl)
        .record(".format_version", b"1")
        .record(".storage_alignment", b"64")
        .record("byteorder", b"little");
    let mut storages = storages.to_vec();
    storages.sort_by_key(|(key, _)| *key);
    for (key, bytes) in storages {
        w.record(&format!("data/{key}"), bytes);
    }
    w.record("version", b"3\n").record(
        ".data/serialization_id",
        b"0123456789012345678901234567890123456789",
    );
    w.finish()
}

/// A protocol-2 `data.pkl` for `{"w": <float32 tensor of 2 elements in storage "0">}`, as
/// torch's `_save` pickles a state dict (persistent ids for storages).
pub const STATE_DICT_PKL: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02((X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000q\x05X\x03\x00\x00\x00cpuq\x06K\x02tq\x07QK\x00K\x02\x85q\x08K\x01\x85q\x09\x89ccollections\nOrderedDict\nq\x0a)Rq\x0btq\x0cRq\x0ds.";

/// The storage bytes for [`STATE_DICT_PKL`]: float32 `[1.0, 2.0]`.
pub const STATE_DICT_STORAGE: &[u8] = b"\x00\x00\x80\x3f\x00\x00\x00\x40";
