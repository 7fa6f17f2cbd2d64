#include "runtime/docker/tar.h"

#include <cstring>
#include <ctime>

namespace k3dpp::runtime::docker::tar {
namespace {

constexpr size_t kBlock = 512;

// ustar header field offsets and sizes.
struct Field {
  size_t off;
  size_t len;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
    kMtime{136, 12}, kChksum{148, 8}, kType{156, 1}, kLink{157, 100}, kMagic{257, 6},
    kVersion{263, 2}, kUname{265, 32}, kGname{297, 32}, kPrefix{345, 155};

void put_str(char* h, Field f, const std::string& s) {
  std::memcpy(h + f.off, s.data(), std::min(s.size(), f.len));
}

// Octal, zero-padded, NUL-terminated in the field width.
void put_octal(char* h, Field f, unsigned long long v) {
  std::string digits(f.len - 1, '0');
  for (size_t i = digits.size(); i-- > 0 && v != 0; v >>= 3) digits[i] = static_cast<char>('0' + (v & 7));
  std::memcpy(h + f.off, digits.data(), digits.size());
  h[f.off + f.len - 1] = '\0';
}

bool fits_octal(Field f, unsigned long long v) {
  return f.len - 1 >= 22 || v < (1ULL << (3 * (f.len - 1)));
}

std::string get_str(const char* h, Field f) {
  size_t n = 0;
  while (n < f.len && h[f.off + n] != '\0') ++n;
  return std::string(h + f.off, n);
}

// Octal with optional spaces/NULs, or GNU base-256 (high bit of the first byte set).
bool get_num(const char* h, Field f, long long& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(h + f.off);
  if (p[0] & 0x80) {
    unsigned long long v = p[0] & 0x7f;
    for (size_t i = 1; i < f.len; ++i) v = (v << 8) | p[i];
    out = static_cast<long long>(v);
    return true;
  }
  unsigned long long v = 0;
  size_t i = 0;
  while (i < f.len && p[i] == ' ') ++i;
  bool any = false;
  for (; i < f.len && p[i] >= '0' && p[i] <= '7'; ++i) {
    v = (v << 3) | (p[i] - '0');
    any = true;
  }
  for (; i < f.len; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return false;
  }
  out = any ? static_cast<long long>(v) : 0;
  return true;
}

unsigned checksum(const char* h) {
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    bool in_chk = i >= kChksum.off && i < kChksum.off + kChksum.len;
    sum += in_chk ? ' ' : static_cast<unsigned char>(h[i]);
  }
  return sum;
}

void pad(std::string& out) {
  if (out.size() % kBlock) out.append(kBlock - out.size() % kBlock, '\0');
}

// Splits a path into ustar prefix/name; false if it cannot be represented.
bool split_ustar(const std::string& path, std::string& prefix, std::string& name) {
  if (path.size() <= kName.len) {
    prefix.clear();
    name = path;
    return true;
  }
  for (size_t pos = path.find('/'); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    if (pos <= kPrefix.len && path.size() - pos - 1 <= kName.len && pos + 1 < path.size()) {
      prefix = path.substr(0, pos);
      name = path.substr(pos + 1);
      return true;
    }
  }
  return false;
}

void append_header(std::string& out, const std::string& name, const std::string& prefix, char type,
                   int mode, int uid, int gid, unsigned long long size, long long mtime,
                   const std::string& link) {
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  put_str(h, kName, name);
  put_octal(h, kMode, static_cast<unsigned>(mode) & 07777);
  put_octal(h, kUid, static_cast<unsigned>(uid));
  put_octal(h, kGid, static_cast<unsigned>(gid));
  put_octal(h, kSize, size);
  put_octal(h, kMtime, static_cast<unsigned long long>(mtime));
  h[kType.off] = type;
  put_str(h, kLink, link);
  std::memcpy(h + kMagic.off, "ustar", 6);  // with its NUL
  std::memcpy(h + kVersion.off, "00", 2);
  put_str(h, kUname, uid == 0 ? "root" : "");
  put_str(h, kGname, gid == 0 ? "root" : "");
  put_str(h, kPrefix, prefix);
  // Checksum: six octal digits, NUL, space.
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", checksum(h));
  std::memcpy(h + kChksum.off, chk, 6);
  h[kChksum.off + 6] = '\0';
  h[kChksum.off + 7] = ' ';
  out.append(h, kBlock);
}

// One PAX record "LEN key=value\n" where LEN counts the whole record including itself.
std::string pax_record(const std::string& key, const std::string& value) {
  size_t base = key.size() + value.size() + 3;  // space, '=', newline
  size_t len = base + std::to_string(base).size();
  if (std::to_string(len).size() != std::to_string(base).size()) len = base + std::to_string(len).size();
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

void parse_pax(const std::string& data, std::string& path, std::string& link, long long& size) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t sp = data.find(' ', pos);
    if (sp == std::string::npos) return;
    long long len = std::atoll(data.substr(pos, sp - pos).c_str());
    if (len <= 0 || pos + static_cast<size_t>(len) > data.size()) return;
    std::string rec = data.substr(sp + 1, pos + len - sp - 2);  // without the newline
    size_t eq = rec.find('=');
    if (eq != std::string::npos) {
      std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
      if (key == "path") path = value;
      else if (key == "linkpath") link = value;
      else if (key == "size") size = std::atoll(value.c_str());
    }
    pos += static_cast<size_t>(len);
  }
}

std::string clean_path(std::string p) {
  while (p.size() >= 2 && p.compare(0, 2, "./") == 0) p.erase(0, 2);
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

std::string build(const std::vector<Entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    std::string path = clean_path(e.path);
    char type = '0';
    unsigned long long size = 0;
    switch (e.type) {
      case EntryType::kDirectory: type = '5'; path += '/'; break;
      case EntryType::kSymlink: type = '2'; break;
      default: type = '0'; size = e.content.size(); break;
    }
    long long mtime = e.mtime != 0 ? e.mtime : static_cast<long long>(std::time(nullptr));
    std::string prefix, name;
    bool ustar_ok = split_ustar(path, prefix, name) && e.link.size() <= kLink.len &&
                    fits_octal(kSize, size);
    if (!ustar_ok) {
      std::string pax = pax_record("path", path);
      if (e.link.size() > kLink.len) pax += pax_record("linkpath", e.link);
      if (!fits_octal(kSize, size)) pax += pax_record("size", std::to_string(size));
      append_header(out, "PaxHeaders/" + path.substr(0, 80), "", 'x', 0644, 0, 0, pax.size(), mtime, "");
      out += pax;
      pad(out);
      prefix.clear();
      name = path.substr(0, kName.len);
    }
    append_header(out, name, prefix, type, e.mode, e.uid, e.gid, fits_octal(kSize, size) ? size : 0,
                  mtime, e.link.substr(0, kLink.len));
    if (e.type == EntryType::kFile) {
      out += e.content;
      pad(out);
    }
  }
  out.append(2 * kBlock, '\0');
  return out;
}

Result<std::vector<Entry>> parse(const std::string& archive) {
  std::vector<Entry> entries;
  std::string pax_path, pax_link, gnu_name, gnu_link;
  long long pax_size = -1;
  size_t pos = 0;
  while (pos + kBlock <= archive.size()) {
    const char* h = archive.data() + pos;
    bool zero = true;
    for (size_t i = 0; i < kBlock && zero; ++i) zero = h[i] == '\0';
    if (zero) break;  // end of archive
    long long stored = 0, size = 0, mode = 0, uid = 0, gid = 0, mtime = 0;
    if (!get_num(h, kChksum, stored) || static_cast<unsigned>(stored) != checksum(h)) {
      return fail("tar: bad header checksum at offset " + std::to_string(pos), "Invalid");
    }
    if (!get_num(h, kSize, size) || !get_num(h, kMode, mode) || !get_num(h, kUid, uid) ||
        !get_num(h, kGid, gid) || !get_num(h, kMtime, mtime)) {
      return fail("tar: bad numeric field at offset " + std::to_string(pos), "Invalid");
    }
    char type = h[kType.off];
    if (pax_size >= 0 && type != 'x' && type != 'g') size = pax_size;
    size_t data_off = pos + kBlock;
    if (size < 0 || data_off + static_cast<size_t>(size) > archive.size()) {
      return fail("tar: truncated entry at offset " + std::to_string(pos), "Invalid");
    }
    std::string data = archive.substr(data_off, static_cast<size_t>(size));
    pos = data_off + (static_cast<size_t>(size) + kBlock - 1) / kBlock * kBlock;

    if (type == 'x') {  // PAX header for the next entry
      parse_pax(data, pax_path, pax_link, pax_size);
      continue;
    }
    if (type == 'g') continue;  // global PAX header: nothing we use
    if (type == 'L') {          // GNU long name
      gnu_name = data.substr(0, data.find('\0'));
      continue;
    }
    if (type == 'K') {  // GNU long link
      gnu_link = data.substr(0, data.find('\0'));
      continue;
    }
    Entry e;
    std::string name = get_str(h, kName);
    std::string magic = get_str(h, kMagic);
    if (magic.rfind("ustar", 0) == 0) {
      std::string prefix = get_str(h, kPrefix);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (!gnu_name.empty()) name = gnu_name;
    if (!pax_path.empty()) name = pax_path;
    e.link = get_str(h, kLink);
    if (!gnu_link.empty()) e.link = gnu_link;
    if (!pax_link.empty()) e.link = pax_link;
    bool dir_by_name = !name.empty() && name.back() == '/';
    e.path = clean_path(name);
    e.mode = static_cast<int>(mode & 07777);
    e.uid = static_cast<int>(uid);
    e.gid = static_cast<int>(gid);
    e.mtime = mtime;
    switch (type) {
      case '0': case '\0': case '7':
        e.type = dir_by_name ? EntryType::kDirectory : EntryType::kFile;
        if (e.type == EntryType::kFile) e.content = std::move(data);
        break;
      case '5': e.type = EntryType::kDirectory; break;
      case '2': e.type = EntryType::kSymlink; break;
      default: e.type = EntryType::kOther; break;
    }
    entries.push_back(std::move(e));
    pax_path.clear();
    pax_link.clear();
    gnu_name.clear();
    gnu_link.clear();
    pax_size = -1;
  }
  if (pos > archive.size() || (pos < archive.size() && pos + kBlock > archive.size())) {
    return fail("tar: archive ends inside a block", "Invalid");
  }
  return entries;
}

}  // namespace k3dpp::runtime::docker::tar
