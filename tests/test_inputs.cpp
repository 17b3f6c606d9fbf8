// Inputs bounded before work starts: the strict JSON parser (nesting, duplicate keys, size), the
// integer flags of sweep, reproduce and bench, the CIFAR reader on files that are not regular
// files or too small for the eval size, and control characters in arm names. Every refusal
// through the binary must be one line "adamgn: error: ...", exit code 2, an empty stdout and no
// file or folder created.
#include "helpers.hpp"
#include "io/presets.hpp"
#include "report/summary.hpp"
#include "tasks/cifar.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace adamgn;

namespace {

struct Outcome {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// The binary under `timeout`, so a blocking read shows as a failure (exit 124) instead of a hang.
Outcome run_binary(const std::string& args) {
  static const std::string dir = test::temp_dir("inputs-io");
  const std::string cmd = "timeout 60 " + std::string(ADAMGN_BINARY) + " " + args + " >" + dir + "/stdout 2>" + dir + "/stderr";
  const int status = std::system(cmd.c_str());
  Outcome r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir + "/stdout");
  r.err = slurp(dir + "/stderr");
  return r;
}

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// One refusal: exit 2, one line naming `mention`, nothing on stdout, `must_not_exist` not created.
void refused(const std::string& args, const std::string& mention, const std::string& must_not_exist) {
  INFO("adamgn " << args);
  const Outcome r = run_binary(args);
  CHECK(r.code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.rfind("adamgn: error: ", 0) == 0);
  CHECK(r.err.find(mention) != std::string::npos);
  CHECK(r.out.empty());
  CHECK_FALSE(exists(must_not_exist));
}

// `levels` arrays nested in each other: [[[...]]].
std::string nested(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

// A small preset whose "tuning" (kept as written) is `tuning`.
std::string small_preset(const std::string& tuning) {
  return R"({"name": "small", "task": {"name": "quadratic", "cov": "half"}, "run": {"steps": 2, "seeds": 1},
            "tuning": )" + tuning + R"(, "arms": [{"name": "a", "precond": "sgd", "lr": 0.1}]})";
}

}  // namespace

TEST_CASE("parse_json: nesting up to 64 levels, duplicate keys with their path, a size limit") {
  CHECK(parse_json(nested(64), "t").is_array());
  CHECK(test::error_of([] { parse_json(nested(65), "t"); }) == "t: invalid JSON (nested deeper than 64 levels)");
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += "{\"k\":";
  objects += "1" + std::string(65, '}');
  CHECK(test::error_of([&] { parse_json(objects, "t"); }).find("nested deeper than 64 levels") != std::string::npos);

  CHECK(test::error_of([] { parse_json(R"({"lr": 1, "steps": 2, "lr": 3})", "doc"); }) ==
        "doc: invalid JSON (duplicate key 'lr')");
  CHECK(test::error_of([] { parse_json(R"({"arms": [{"lr": 1}, {"name": "b", "lr": 1, "lr": 2}]})", "doc"); }) ==
        "doc: invalid JSON (duplicate key 'arms[1].lr')");
  // The same key in two different objects is not a duplicate.
  const json ok = parse_json(R"({"a": {"x": 1, "y": [true, null, "s", 2.5]}, "b": {"x": -3}})", "doc");
  CHECK(ok == json::parse(R"({"a": {"x": 1, "y": [true, null, "s", 2.5]}, "b": {"x": -3}})"));

  const std::string ten = "[1,2,3,4] ";
  CHECK(parse_json(ten, "t", 10).size() == 4);
  CHECK(test::error_of([&] { parse_json(ten + " ", "t", 10); }) == "t: invalid JSON (larger than the limit of 10 bytes)");
  std::istringstream stream(ten + " ");
  CHECK(test::error_of([&] { parse_json(stream, "s", 10); }) == "s: invalid JSON (larger than the limit of 10 bytes)");

  const std::string bad = test::error_of([] { parse_json("{\"a\":\n\n", "t"); });
  CHECK(bad.rfind("t: invalid JSON (parse error", 0) == 0);
  CHECK(bad.find('\n') == std::string::npos);
}

TEST_CASE("a preset nested 300,000 levels deep is refused in one line, not a crash") {
  const std::string dir = test::temp_dir("inputs-deep");
  write_text(dir + "/deep.json", nested(300000));
  refused("run --preset " + dir + "/deep.json -o " + dir + "/out.json", "nested deeper than 64 levels", dir + "/out.json");
  refused("sweep --preset " + dir + "/deep.json --out " + dir + "/sweep", "nested deeper than 64 levels", dir + "/sweep");
  // The same nesting as a result file for plot and summarize.
  refused("plot " + dir + "/deep.json -o " + dir + "/fig.svg", "nested deeper than 64 levels", dir + "/fig.svg");
  refused("summarize " + dir + "/deep.json", "nested deeper than 64 levels", dir + "/none");
}

TEST_CASE("a preset nested 64 levels deep runs, 65 levels are refused") {
  const std::string dir = test::temp_dir("inputs-depth");
  // The preset object is level 1 and "tuning" level 2, so 63 arrays there make 64 levels.
  write_text(dir + "/p64.json", small_preset(nested(63)));
  write_text(dir + "/p65.json", small_preset(nested(64)));
  const Outcome r = run_binary("run --preset " + dir + "/p64.json -q -o " + dir + "/r64.json");
  CHECK(r.code == 0);
  CHECK(exists(dir + "/r64.json"));
  refused("run --preset " + dir + "/p65.json -q -o " + dir + "/r65.json", "nested deeper than 64 levels", dir + "/r65.json");
}

TEST_CASE("duplicate keys in a preset or result file are refused, naming the key") {
  const std::string dir = test::temp_dir("inputs-dup");
  write_text(dir + "/top.json", R"({"name": "x", "task": {"name": "quadratic"}, "task": {"name": "logistic"},
                                     "arms": [{"precond": "sgd", "lr": 0.1}]})");
  write_text(dir + "/arm.json", R"({"task": {"name": "quadratic", "cov": "half"},
                                     "arms": [{"name": "a", "precond": "sgd", "lr": 0.1},
                                              {"name": "b", "precond": "sgd", "lr": 0.1, "lr": 0.5}]})");
  refused("run --preset " + dir + "/top.json -o " + dir + "/o.json", "duplicate key 'task'", dir + "/o.json");
  refused("run --preset " + dir + "/arm.json -o " + dir + "/o.json", "duplicate key 'arms[1].lr'", dir + "/o.json");
  refused("bench --preset " + dir + "/arm.json", "duplicate key 'arms[1].lr'", dir + "/none");
  // Without the duplicate the same file runs.
  write_text(dir + "/fixed.json", R"({"task": {"name": "quadratic", "cov": "half"}, "run": {"steps": 2},
                                       "arms": [{"name": "a", "precond": "sgd", "lr": 0.1},
                                                {"name": "b", "precond": "sgd", "lr": 0.5}]})");
  CHECK(run_binary("run --preset " + dir + "/fixed.json -q -o " + dir + "/fixed-out.json").code == 0);
  const json result = parse_json(slurp(dir + "/fixed-out.json"), "result", kJsonResultBytes);
  std::string text = result.dump();
  text.insert(1, "\"schema\": \"adamgn.result/1\", ");  // the same key again, first
  write_text(dir + "/result-dup.json", text);
  refused("plot " + dir + "/result-dup.json -o " + dir + "/f.svg", "duplicate key 'schema'", dir + "/f.svg");
  refused("report " + dir + "/result-dup.json -o " + dir + "/R.md", "duplicate key 'schema'", dir + "/R.md");
  refused("summarize " + dir + "/result-dup.json", "duplicate key 'schema'", dir + "/none");
}

TEST_CASE("a preset file above the size limit is refused before it is parsed") {
  const std::string dir = test::temp_dir("inputs-size");
  // Valid JSON: a small preset followed by whitespace up to one byte over the limit.
  std::string text = small_preset("null");
  const std::string small = text;
  text.resize(kJsonConfigBytes + 1, ' ');
  write_text(dir + "/big.json", text);
  refused("run --preset " + dir + "/big.json -o " + dir + "/o.json", "larger than the limit of 4194304 bytes", dir + "/o.json");
  text.resize(kJsonConfigBytes);
  write_text(dir + "/limit.json", text);
  CHECK(run_binary("run --preset " + dir + "/limit.json -q -o " + dir + "/o.json").code == 0);
}

TEST_CASE("sweep: out-of-range and malformed integer flags are refused before the folder exists") {
  const std::string dir = test::temp_dir("inputs-sweep");
  const std::string out = dir + "/store";
  const std::string base = "sweep --preset fig1-left --grid lr=0.1,0.2 --out " + out + " ";
  refused(base + "--seeds 0", "--seeds: 0 must be >= 1", out);
  refused(base + "--seeds -1", "--seeds: -1 must be >= 1", out);
  refused(base + "--seeds 1e9", "--seeds: 1e9 is not a whole number", out);
  refused(base + "--seeds abc", "--seeds: abc is not a whole number", out);
  refused(base + "--seeds 99999999999999999999", "--seeds: 99999999999999999999 is out of range", out);
  refused(base + "--seeds 1000000000", "sweep seeds = 1000000000 must be in [1, 1000000]", out);
  refused(base + "--rerun-seeds 1000001", "sweep rerun_seeds = 1000001 must be in [0, 1000000]", out);
  refused(base + "--seed -1", "--seed: -1 must be >= 0", out);
  refused(base + "--rerun-seeds -5", "--rerun-seeds: -5 must be >= 0", out);
  refused(base + "--threads -1", "--threads: -1 must be >= 0", out);
  refused(base + "--threads 2.5", "--threads: 2.5 is not a whole number", out);
  refused(base + "--index -1", "--index: -1 must be >= 0", out);
  refused(base + "--shard 5/3", "--shard 5/3 must be I/N", out);
  refused(base + "--shard 1/0", "--shard 1/0 must be I/N", out);
  refused(base + "--shard 1/x", "--shard 1/x must be I/N", out);
  refused(base + "--emit-slurm --shards 0", "--shards: 0 must be >= 1", out);
  refused(base + "--emit-slurm --slurm-cpus 0", "--slurm-cpus: 0 must be >= 1", out);
  refused(base + "--write-preset " + dir + "/nowhere/p.json", "nowhere", out);
  refused(base + "--emit-slurm --slurm-script " + dir + "/nowhere/s.sh", "nowhere", out);
  // Flags that define a sweep are refused when continuing the one a folder holds.
  refused("sweep --out " + out + " --seeds 3", "need --preset", out);
  // The same command with valid flags lists the jobs (and makes the folder).
  const Outcome ok = run_binary(base + "--seeds 1 --seed 0 --threads 1 --list");
  CHECK(ok.code == 0);
  CHECK(ok.out.rfind("index\tstage", 0) == 0);
  CHECK(exists(out));
}

TEST_CASE("reproduce: unknown presets, scales and bad flags are refused before the folder exists") {
  const std::string dir = test::temp_dir("inputs-reproduce");
  const std::string out = dir + "/out";
  refused("reproduce --presets nosuch -q -o " + out, "nosuch", out);
  refused("reproduce --presets fig2,nosuch -q -o " + out, "nosuch", out);
  refused("reproduce --presets fig2,fig2 -q -o " + out, "fig2 twice", out);
  refused("reproduce --presets fig2 --scale huge -q -o " + out, "preset fig2: scale = huge", out);
  refused("reproduce --presets fig2 --threads -1 -q -o " + out, "--threads: -1 must be >= 0", out);
  refused("reproduce --presets fig2 --threads 1e9 -q -o " + out, "--threads: 1e9 is not a whole number", out);
  write_text(dir + "/file", "x");
  refused("reproduce --presets fig2 -q -o " + dir + "/file", "not a folder", dir + "/file/REPORT.md");
  CHECK(slurp(dir + "/file") == "x");
}

TEST_CASE("bench: every preset and flag is checked before the table is printed") {
  refused("bench --preset fig1-left --steps 0", "--steps: 0 must be >= 1", "/nonexistent-inputs");
  refused("bench --preset fig1-left --steps abc", "--steps: abc is not a whole number", "/nonexistent-inputs");
  refused("bench --preset fig1-left --steps 1e9", "--steps: 1e9 is not a whole number", "/nonexistent-inputs");
  refused("bench --preset fig1-left --warmup -1", "--warmup: -1 must be >= 0", "/nonexistent-inputs");
  refused("bench --preset fig1-left --steps 1", "no more than --warmup 1", "/nonexistent-inputs");
  // A bad second preset stops the command before the first one's row (or the header) is printed.
  refused("bench --preset fig1-left --preset nosuch --steps 2", "nosuch", "/nonexistent-inputs");
  const Outcome ok = run_binary("bench --preset fig1-left --arms adam --steps 2 --set task.dim=4");
  CHECK(ok.code == 0);
  CHECK(count_lines(ok.out) == 3);  // header, rule, one arm
}

TEST_CASE("cifar: a FIFO or a folder in place of a data file is refused at once") {
  const std::string dir = test::tiny_cifar_dataset();
  const std::string batch = dir + "/data_batch_1.bin";
  REQUIRE(std::remove(batch.c_str()) == 0);
  REQUIRE(mkfifo(batch.c_str(), 0600) == 0);
  const std::string args = "cifar --data-dir " + dir + " --width 2 --batch 2 --steps 1 --eval-size 4 -q -o " + dir + "/o.json";
  refused(args, "CIFAR-10 file " + batch + " is not a regular file", dir + "/o.json");
  REQUIRE(std::remove(batch.c_str()) == 0);
  REQUIRE(mkdir(batch.c_str(), 0700) == 0);
  refused(args, "CIFAR-10 file " + batch + " is not a regular file", dir + "/o.json");
  CHECK(test::error_of([&] { read_cifar_files({batch}); }) == "CIFAR-10 file " + batch + " is not a regular file");
  REQUIRE(rmdir(batch.c_str()) == 0);
  test::write_bytes(batch, test::cifar_records(1, 4));
  CHECK(run_binary(args).code == 0);
}

TEST_CASE("cifar: an eval size above the training images is refused, naming both numbers") {
  const std::string dir = test::tiny_cifar_dataset();  // 5 x 4 = 20 training images
  const json task{{"name", "cifar"}, {"data_dir", dir}, {"width", 2}, {"eval_size", 21}};
  CHECK(test::error_of([&] { make_task_factory(task); }) ==
        "task.eval_size = 21 is more than the 20 CIFAR-10 training images the probe is drawn from");
  json fits = task;
  fits["eval_size"] = 20;
  CHECK(make_task_factory(fits)->config()["eval_size"] == 20);
  refused("cifar --data-dir " + dir + " --width 2 --batch 2 --steps 1 --eval-size 100000 -o " + dir + "/o.json",
          "task.eval_size = 100000 is more than the 20 CIFAR-10 training images", dir + "/o.json");
}

TEST_CASE("arm names with control characters are refused; tables escape them in any cell") {
  const json doc{{"task", {{"name", "quadratic"}, {"cov", "half"}}},
                 {"arms", {{{"name", "ok"}, {"precond", "sgd"}, {"lr", 0.1}}, {{"name", "a\nb"}, {"precond", "sgd"}, {"lr", 0.1}}}}};
  CHECK(test::error_of([&] { parse_experiment(doc); }) ==
        "arms[1].name = a\\nb holds a control character (shown escaped); arm names must be printable");
  json del = doc;
  del["arms"][1]["name"] = std::string("x\x7fy\x1b");
  CHECK(test::error_of([&] { parse_experiment(del); }).find("arms[1].name = x\\x7fy\\x1b holds") == 0);
  json utf8 = doc;
  utf8["arms"][1]["name"] = "GN⁻¹ étape";  // bytes >= 0x80 are text
  CHECK(parse_experiment(utf8).arms[1].name == "GN⁻¹ étape");

  const std::string dir = test::temp_dir("inputs-names");
  refused("quadratic --cov half --steps 2 --name \"$(printf 'a\\tb')\" -o " + dir + "/o.json",
          "arms[0].name = a\\tb holds a control character", dir + "/o.json");

  RunRow row;
  row.source = "r.json";
  row.stage = "run";
  row.arm = "line one\nline|two\r\x01";
  row.setting = "lr=0.1,\"x\"";
  const std::string md = render_runs({row}, TableFormat::markdown);
  CHECK(count_lines(md) == 3);  // header, rule, the row
  CHECK(md.find("| line one\\nline\\|two\\r\\x01 |") != std::string::npos);
  const std::string csv = render_runs({row}, TableFormat::csv);
  CHECK(count_lines(csv) == 2);
  CHECK(csv.find(",line one\\nline|two\\r\\x01,\"lr=0.1,\"\"x\"\"\",") != std::string::npos);
  SettingRow s;
  s.arm = "tab\there";
  CHECK(render_settings({s}, TableFormat::markdown).find("| tab\\there |") != std::string::npos);
}
