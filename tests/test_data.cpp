// Training data streamed through the Loader (train/loader.h) from the sources
// of train/dataset.h: batches follow the epoch order from any step, unreadable
// rows are skipped deterministically and reported once, image folders give
// their classes and channels, the decoded cache returns exactly what decoding
// returns and rebuilds when the folder or the cache changes, memory stays flat
// over more images than it could hold, and a run resumed mid-epoch on an image
// folder ends bit-exact where the uninterrupted one does.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "io/safetensors.h"
#include "tests/image_fixtures.h"
#include "train/trainer.h"

namespace gantry {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "gantry-data-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Rows whose every pixel is the row number, and some rows that cannot be read.
class NumberedSource final : public DataSource {
 public:
  NumberedSource(int64_t rows, std::set<int64_t> bad) : bad_(std::move(bad)) {
    rows_ = rows;
    image_ = Shape{1, 2, 2};
    description_ = "numbered rows";
  }
  Status read(int64_t row, float* pixels, float* label) override {
    ++reads[row];
    if (bad_.count(row)) return Status::error("row " + std::to_string(row) + ": unreadable");
    std::fill_n(pixels, 4, float(row));
    *label = float(row % 3);
    return {};
  }
  std::map<int64_t, int> reads;

 private:
  std::set<int64_t> bad_;
};

std::vector<int64_t> rows_of(const Loader::Batch& b) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < b.labels.size(); ++i) rows.push_back(int64_t(b.pixels[4 * i]));
  return rows;
}

TEST(Loader, BatchesFollowTheEpochOrderFromAnyStep) {
  NumberedSource src(10, {});
  Loader loader(src, 7, 3);
  EpochOrder order(10, 7);
  std::vector<std::vector<int64_t>> seen;
  for (int64_t step = 0; step < 12; ++step) {  // 36 rows: three epochs and a bit
    const Loader::Batch& b = loader.batch(step);
    ASSERT_TRUE(b.status.ok());
    std::vector<int64_t> want;
    for (int64_t i = 0; i < 3; ++i) want.push_back(order.row(step * 3 + i));
    EXPECT_EQ(rows_of(b), want) << "step " << step;
    for (size_t i = 0; i < b.labels.size(); ++i) EXPECT_EQ(b.labels[i], float(want[i] % 3));
    seen.push_back(rows_of(b));
  }
  // A second loader started mid-way (a resume), and a jump back, read the same.
  NumberedSource again(10, {});  // a source serves one loader (one reading thread)
  Loader resumed(again, 7, 3);
  for (int64_t step : {7, 8, 9, 2, 3}) EXPECT_EQ(rows_of(resumed.batch(step)), seen[size_t(step)]) << "step " << step;
  // Every epoch is a permutation: each row once per 10 positions.
  std::multiset<int64_t> epoch0;
  for (int64_t p = 0; p < 10; ++p) epoch0.insert(order.row(p));
  for (int64_t r = 0; r < 10; ++r) EXPECT_EQ(epoch0.count(r), 1u);
}

TEST(Loader, SkipsUnreadableRowsOnceAndDeterministically) {
  NumberedSource a(9, {2, 5, 6}), b(9, {2, 5, 6});
  Loader la(a, 3, 4), lb(b, 3, 4);
  std::vector<std::string> warnings;
  for (int64_t step = 0; step < 9; ++step) {
    const Loader::Batch& x = la.batch(step);
    ASSERT_TRUE(x.status.ok());
    const std::vector<int64_t> rows = rows_of(x);
    EXPECT_EQ(rows, rows_of(lb.batch(step))) << "step " << step;
    for (int64_t r : rows) EXPECT_TRUE(r != 2 && r != 5 && r != 6) << "step " << step << " used bad row " << r;
    for (std::string& w : la.take_warnings()) warnings.push_back(std::move(w));
  }
  // The next readable row (cyclically) stands in: 2 → 3, 5 and 6 → 7.
  EpochOrder order(9, 3);
  const Loader::Batch& first = la.batch(0);
  for (int64_t i = 0; i < 4; ++i) {
    const int64_t want = order.row(i);
    EXPECT_EQ(rows_of(first)[size_t(i)], want == 2 ? 3 : want == 5 || want == 6 ? 7 : want);
  }
  ASSERT_EQ(warnings.size(), 3u);
  for (const std::string& w : warnings) EXPECT_NE(w.find("unreadable"), std::string::npos) << w;
  EXPECT_EQ(la.skipped(), 3);
  for (int64_t bad : {2, 5, 6}) EXPECT_EQ(a.reads[bad], 1) << "row " << bad << " tried again";
}

TEST(Loader, NoReadableRowIsAnError) {
  NumberedSource src(4, {0, 1, 2, 3});
  Loader loader(src, 1, 2);
  const Loader::Batch& b = loader.batch(0);
  ASSERT_FALSE(b.status.ok());
  EXPECT_NE(b.status.message().find("could be read"), std::string::npos) << b.status.message();
}

Result<std::unique_ptr<DataSource>> open(const std::string& dir, int size, bool classes, std::string cache = {},
                                         int channels = 0) {
  DataOptions o;
  o.size = size, o.classes = classes, o.cache_dir = std::move(cache), o.channels = channels;
  return open_data(dir, o);
}

std::vector<float> read_all_rows(DataSource& s, std::vector<std::string>* errors = nullptr) {
  const int64_t per = s.image().numel();
  std::vector<float> all(size_t(s.rows() * per), -9.0f);
  for (int64_t r = s.rows() - 1; r >= 0; --r) {  // not in file order
    float label;
    const Status st = s.read(r, all.data() + r * per, &label);
    if (!st.ok() && errors) errors->push_back(st.message());
  }
  return all;
}

TEST(ImageFolderData, ClassesFromSubFoldersAndChannelsFromFiles) {
  TempDir tmp;
  testing::ImageFolderSpec spec;
  spec.classes = {"zebra", "Apple", "mango"};  // byte order: Apple, mango, zebra
  spec.per_class = 5;
  testing::write_image_folder(tmp.path, spec);
  auto s = open(tmp.path, 32, true);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ((*s)->class_names(), (std::vector<std::string>{"Apple", "mango", "zebra"}));
  EXPECT_EQ((*s)->rows(), 15);
  EXPECT_EQ((*s)->image(), (Shape{3, 32, 32}));  // RGB files
  std::vector<float> px(size_t((*s)->image().numel()));
  for (int64_t r = 0; r < 15; ++r) {
    float label = -1;
    ASSERT_TRUE((*s)->read(r, px.data(), &label).ok());
    EXPECT_EQ(label, float(r / 5)) << "row " << r;
    for (float v : px) ASSERT_TRUE(v >= -1 && v <= 1) << v;
  }
  auto gray = open(tmp.path, 32, true, {}, 1);
  ASSERT_TRUE(gray.ok());
  EXPECT_EQ((*gray)->image(), (Shape{1, 32, 32}));

  TempDir g;
  spec.gray = true;
  testing::write_image_folder(g.path, spec);
  auto s1 = open(g.path, 28, false);
  ASSERT_TRUE(s1.ok()) << s1.message();
  EXPECT_EQ((*s1)->image(), (Shape{1, 28, 28}));  // gray files
  EXPECT_TRUE((*s1)->class_names().empty());
  EXPECT_EQ((*s1)->rows(), 15);  // searched recursively without classes
}

TEST(ImageFolderData, TheCacheReturnsWhatDecodingReturns) {
  TempDir data, cache;
  testing::ImageFolderSpec spec;
  spec.classes = {"x", "y"};
  spec.per_class = 12;
  spec.corrupt = 2;  // a truncated PNG and a truncated JPEG: their headers read, their data does not
  testing::write_image_folder(data.path, spec);

  auto plain = open(data.path, 32, false);
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_EQ((*plain)->cache_status(), "");
  std::vector<std::string> plain_errors;
  const std::vector<float> want = read_all_rows(**plain, &plain_errors);
  ASSERT_EQ(plain_errors.size(), 2u);

  auto building = open(data.path, 32, false, cache.path);
  ASSERT_TRUE(building.ok());
  EXPECT_NE((*building)->cache_status().find("writing"), std::string::npos) << (*building)->cache_status();
  std::vector<std::string> errors;
  EXPECT_EQ(read_all_rows(**building, &errors), want);
  EXPECT_EQ(errors, plain_errors);
  EXPECT_NE((*building)->cache_status().find("complete"), std::string::npos) << (*building)->cache_status();
  // Read from the complete cache: the same bytes, the same unreadable rows.
  EXPECT_EQ(read_all_rows(**building), want);

  auto warm = open(data.path, 32, false, cache.path);
  ASSERT_TRUE(warm.ok());
  EXPECT_NE((*warm)->cache_status().find("reading"), std::string::npos) << (*warm)->cache_status();
  errors.clear();
  EXPECT_EQ(read_all_rows(**warm, &errors), want);
  EXPECT_EQ(errors.size(), 2u);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(cache.path)) files += e.path().extension() == ".u8";
  EXPECT_EQ(files, 1u);

  // Another size is another cache; a damaged cache file is rebuilt.
  auto other = open(data.path, 28, false, cache.path);
  EXPECT_NE((*other)->cache_status().find("writing"), std::string::npos);
  const std::string status = (*warm)->cache_status();
  const std::string path = status.substr(7, status.find(" (") - 7);
  ASSERT_TRUE(fs::exists(path)) << path;
  fs::resize_file(path, fs::file_size(path) - 1);
  auto damaged = open(data.path, 32, false, cache.path);
  EXPECT_NE((*damaged)->cache_status().find("writing"), std::string::npos) << (*damaged)->cache_status();
  EXPECT_EQ(read_all_rows(**damaged), want);
}

TEST(ImageFolderData, AChangedFolderGetsANewCacheAndAStaleTemporaryGoes) {
  TempDir data, cache;
  testing::ImageFolderSpec spec;
  spec.per_class = 6;
  testing::write_image_folder(data.path, spec);
  auto a = open(data.path, 28, false, cache.path);
  ASSERT_TRUE(a.ok());
  read_all_rows(**a);
  const std::string status = (*a)->cache_status();
  const std::string path = status.substr(7, status.find(" (") - 7);
  ASSERT_TRUE(fs::exists(path)) << status;
  // One image rewritten: a new key, so the old cache is not used.
  spec.seed = 2;
  spec.per_class = 1;
  testing::write_image_folder(data.path, spec);
  auto b = open(data.path, 28, false, cache.path);
  EXPECT_NE((*b)->cache_status().find("writing"), std::string::npos) << (*b)->cache_status();
  EXPECT_EQ((*b)->cache_status().find(path), std::string::npos);
  // A temporary left by a writer that is gone is removed; the live one stays until its source goes.
  const std::string b_status = (*b)->cache_status();
  const std::string b_path = b_status.substr(7, b_status.find(" (") - 7);
  const std::string stale = b_path + ".tmp-2147483646";
  std::ofstream(stale) << "x";
  auto c = open(data.path, 28, false, cache.path);
  EXPECT_FALSE(fs::exists(stale));
  b->reset();
  c->reset();
  for (const auto& e : fs::directory_iterator(cache.path))
    EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(ImageFolderData, AnUnwritableCacheIsDroppedNotFatal) {
  TempDir data;
  testing::write_image_folder(data.path, testing::ImageFolderSpec{});
  const std::string not_a_dir = data.path + "/a/img_00000.png";  // a file
  auto s = open(data.path, 28, false, not_a_dir);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_NE((*s)->cache_status().find("cache: off"), std::string::npos) << (*s)->cache_status();
  std::vector<std::string> errors;
  read_all_rows(**s, &errors);
  EXPECT_TRUE(errors.empty());
}

long resident_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

TrainConfig narrow(const std::string& model, int64_t batch) {
  TrainConfig c;
  c.model = model;
  c.batch = batch;
  c.threads = 2;
  c.widths = (*nets::model_spec(model))->widths;
  c.widths.nz = 8, c.widths.ngf = 4, c.widths.ndf = 4;
  return c;
}

// Memory is measured, not timed: 3,000 RGB images at 64×64 are 147 MB as
// floats and 37 MB as cached bytes. Streaming them three times through a
// loader (the first epoch decoding and writing the cache, then two from it)
// may grow the resident set by far less than either.
TEST(Streaming, ResidentMemoryStaysFlatOverThousandsOfImages) {
  TempDir data, cache;
  testing::ImageFolderSpec spec;
  spec.classes = {"p", "q", "r"};
  spec.per_class = 1000;
  spec.min_side = 40, spec.max_side = 80;
  testing::write_image_folder(data.path, spec);
  auto s = open(data.path, 64, true, cache.path);
  ASSERT_TRUE(s.ok()) << s.message();
  Loader loader(**s, 11, 64);
  const int64_t steps = 3 * 3000 / 64;
  long start = 0;
  double sum = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const Loader::Batch& b = loader.batch(step);
    ASSERT_TRUE(b.status.ok()) << b.status.message();
    sum += double(b.pixels[size_t(step % 64)]);
    if (step == 4) start = resident_kib();
  }
  const long end = resident_kib();
  ASSERT_GT(start, 0);
  EXPECT_NE((*s)->cache_status().find("complete"), std::string::npos) << (*s)->cache_status();
  EXPECT_TRUE(std::isfinite(sum));
  EXPECT_LT(end - start, 8 * 1024) << "resident set grew from " << start << " KiB to " << end << " KiB";
  std::printf("resident set: %ld KiB after 5 batches, %ld KiB after %lld (3 epochs of 3,000 images)\n", start, end,
              static_cast<long long>(steps));
}

// A run resumed in the middle of an epoch, on an image folder with
// unreadable files, ends with the weights of the run that went straight through.
TEST(Streaming, ResumeMidEpochIsBitExact) {
  TempDir data, run;
  testing::ImageFolderSpec spec;
  spec.classes = {"one", "two", "three"};
  spec.per_class = 7;
  spec.corrupt = 2;
  testing::write_image_folder(data.path, spec);
  auto make = [&]() {
    auto s = open(data.path, 32, true, run.path);
    EXPECT_TRUE(s.ok()) << s.message();
    TrainConfig c = narrow("cgan32", 8);
    c.widths.nc = 3, c.widths.classes = 3;
    auto t = Trainer::create(c, std::move(*s));
    EXPECT_TRUE(t.ok()) << t.message();
    return std::move(*t);
  };
  auto straight = make();
  ASSERT_TRUE(straight->init_weights().ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(straight->step().ok());  // 56 positions over 23 rows: mid-epoch 3
  ASSERT_TRUE(straight->save(run.path + "/straight.safetensors").ok());

  auto first = make();
  ASSERT_TRUE(first->init_weights().ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(first->step().ok());  // 24 positions: mid-epoch 2
  ASSERT_TRUE(first->save(run.path + "/half.safetensors").ok());
  auto second = make();
  ASSERT_TRUE(second->load(run.path + "/half.safetensors").ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(second->step().ok());
  ASSERT_TRUE(second->save(run.path + "/resumed.safetensors").ok());
  EXPECT_EQ(straight->rows_skipped(), 2);  // the truncated PNG and JPEG, each once

  auto a = read_safetensors(run.path + "/straight.safetensors"),
       b = read_safetensors(run.path + "/resumed.safetensors");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors.size(), b->tensors.size());
  for (size_t i = 0; i < a->tensors.size(); ++i)
    EXPECT_EQ(a->tensors[i].data, b->tensors[i].data) << a->tensors[i].name << " differs after the resume";
  const std::string* names = a->meta("class_names");
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(split_class_names(*names), (std::vector<std::string>{"one", "three", "two"}));
}

}  // namespace
}  // namespace gantry
