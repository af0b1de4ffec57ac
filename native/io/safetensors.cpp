#include "io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "errors.h"
#include "mlx/io/load.h"

namespace mlxlab {

namespace fs = std::filesystem;

namespace {

// MLX messages start with "[function] "; the file name says enough.
std::string strip_mlx_prefix(const std::string& message) {
  if (!message.empty() && message[0] == '[') {
    auto end = message.find("] ");
    if (end != std::string::npos) return message.substr(end + 2);
  }
  return message;
}

// Size of the JSON header from the first 8 bytes (little-endian u64).
uint64_t read_header_length(const std::string& file, uintmax_t file_size) {
  if (file_size < 8) {
    fail(codes::kModelLoad, file + ": truncated safetensors file (" + std::to_string(file_size) +
                                " bytes, no header)");
  }
  std::ifstream in(file, std::ios::binary);
  unsigned char bytes[8];
  if (!in.read(reinterpret_cast<char*>(bytes), 8)) {
    fail(codes::kModelLoad, file + ": cannot read the safetensors header");
  }
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[i];
  if (length > file_size - 8) {
    fail(codes::kModelLoad, file + ": truncated safetensors file (header of " +
                                std::to_string(length) + " bytes, file of " +
                                std::to_string(file_size) + " bytes)");
  }
  return length;
}

// A file writer that can fsync before closing (MLX's FileWriter cannot).
class SyncedFileWriter : public mx::io::Writer {
 public:
  explicit SyncedFileWriter(std::string path) : path_(std::move(path)) {}
  ~SyncedFileWriter() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void open() override {
    if (fd_ < 0) fd_ = ::open(path_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd_ < 0) fail_io(path_ + ": cannot create file", errno);
  }
  bool is_open() const override { return fd_ >= 0; }
  bool good() const override { return fd_ >= 0 && !failed_; }
  size_t tell() override { return static_cast<size_t>(::lseek(fd_, 0, SEEK_CUR)); }
  void seek(int64_t off, std::ios_base::seekdir way) override {
    int origin = way == std::ios_base::beg   ? SEEK_SET
                 : way == std::ios_base::end ? SEEK_END
                                             : SEEK_CUR;
    ::lseek(fd_, off, origin);
  }
  void write(const char* data, size_t n) override {
    if (fd_ < 0) open();
    while (n > 0) {
      auto m = ::write(fd_, data, std::min(n, static_cast<size_t>(1) << 30));
      if (m < 0) {
        if (errno == EINTR) continue;
        failed_ = true;
        fail_io(path_ + ": write failed", errno);
      }
      data += m;
      n -= static_cast<size_t>(m);
    }
  }
  std::string label() const override { return "file " + path_; }

  // Flush to disk and close; throws when either fails.
  void sync_and_close() {
    if (fd_ < 0) return;
    if (::fsync(fd_) != 0) fail_io(path_ + ": fsync failed", errno);
    if (::close(fd_) != 0) {
      fd_ = -1;
      fail_io(path_ + ": close failed", errno);
    }
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool failed_ = false;
};

// Make the rename itself durable.
void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::pair<Weights, std::unordered_map<std::string, std::string>> load_safetensors_file(
    const std::string& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) fail(codes::kModelLoad, file + ": file not found");
  if (!fs::is_regular_file(file, ec)) fail(codes::kModelLoad, file + ": not a regular file");
  auto file_size = fs::file_size(file, ec);
  if (ec) fail(codes::kModelLoad, file + ": cannot read file size: " + ec.message());
  auto header_length = read_header_length(file, file_size);

  mx::SafetensorsLoad loaded;
  try {
    loaded = mx::load_safetensors(file);
  } catch (const std::exception& e) {
    fail(codes::kModelLoad, file + ": bad safetensors file: " + strip_mlx_prefix(e.what()));
  }
  auto& [arrays, metadata] = loaded;

  // The tensors' bytes must all lie inside the file.
  uint64_t data_bytes = 0;
  for (auto& [name, a] : arrays) data_bytes += a.nbytes();
  if (8 + header_length + data_bytes > file_size) {
    fail(codes::kModelLoad, file + ": truncated safetensors file (header describes " +
                                std::to_string(8 + header_length + data_bytes) +
                                " bytes, file has " + std::to_string(file_size) + ")");
  }

  std::vector<mx::array> all;
  all.reserve(arrays.size());
  for (auto& [name, a] : arrays) all.push_back(a);
  try {
    mx::eval(all);
  } catch (const std::exception& e) {
    fail(codes::kModelLoad, file + ": cannot read tensors: " + strip_mlx_prefix(e.what()));
  }
  Weights weights(arrays.begin(), arrays.end());
  return {std::move(weights), std::move(metadata)};
}

Weights load_safetensors_files(const std::vector<std::string>& files) {
  if (files.empty()) fail(codes::kModelLoad, "no safetensors files given");
  Weights all;
  std::unordered_map<std::string, std::string> source;
  for (const auto& file : files) {
    auto [weights, metadata] = load_safetensors_file(file);
    for (auto& [name, a] : weights) {
      auto [it, inserted] = source.emplace(name, file);
      if (!inserted) {
        fail(codes::kModelLoad, file + ": weight \"" + name + "\" is also in " + it->second);
      }
      all.insert_or_assign(name, a);
    }
  }
  return all;
}

void save_safetensors_file(const std::string& path, const Weights& weights,
                           const std::unordered_map<std::string, std::string>& metadata) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::unordered_map<std::string, mx::array> arrays(weights.begin(), weights.end());
  auto writer = std::make_shared<SyncedFileWriter>(tmp);
  try {
    mx::save_safetensors(writer, std::move(arrays), metadata);
    writer->sync_and_close();
  } catch (const Error&) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail(codes::kModelLoad, path + ": cannot save: " + strip_mlx_prefix(e.what()));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail_io(path + ": cannot rename the temporary file into place", ec.value());
  }
  sync_directory(fs::path(path).parent_path());
}

}  // namespace mlxlab
