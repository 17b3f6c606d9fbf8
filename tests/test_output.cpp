// Output safety (io/files.hpp, docs/reliability.md): adamgn writes regular files only, through
// symlinks, atomically and durably; it refuses devices, FIFOs, sockets and folders with one line
// and exit code 2, leaving them as they were; and a write to stdout or stderr that fails (full
// device, closed descriptor) is an error with a non-zero exit, never a silent success.
// The device cases run against private copies of /dev/full and /dev/null made with mknod when the
// tests run as root, so that a regression cannot replace the machine's own devices.
#include "io/files.hpp"

#include "core/types.hpp"

#include "paths.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh folder for one test, removed with its contents when the test program exits.
std::string scratch(const std::string& name) {
  struct Root {
    std::string path;
    Root() {
      char tmpl[] = "/tmp/adamgn-output-XXXXXX";
      path = mkdtemp(tmpl);
    }
    ~Root() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static Root root;
  const std::string dir = root.path + "/" + name;
  fs::create_directories(dir);
  return dir;
}

// Runs the binary with `args`; `streams` replaces the default redirections of stdout and stderr
// to files (whose contents are returned) where a test needs its own.
Result run_adamgn(const std::string& args, const std::string& streams = "") {
  const std::string dir = scratch("streams");
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  std::remove(out.c_str());
  std::remove(err.c_str());
  const std::string cmd = "timeout 120 " + std::string(ADAMGN_BINARY) + " " + args + " " +
                          (streams.empty() ? ">" + out + " 2>" + err : streams);
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

const std::string kRun = "quadratic --steps 5 --seeds 2 -q";

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void check_one_line(const Result& r, const std::string& must_mention) {
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.rfind("adamgn: error: ", 0) == 0);
  CHECK(r.err.find(must_mention) != std::string::npos);
}

bool is_result(const std::string& path) {
  const std::string text = slurp(path);
  if (text.empty() || text.back() != '\n') return false;
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  return !doc.is_discarded() && doc.value("schema", "") == "adamgn.result/1";
}

struct stat status_of(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st;
}

// Files in `dir` whose name holds ".tmp." (a temporary left behind).
int temporaries(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

// A character device with the same driver as `real` (a private node as root, else the real one).
std::string device_like(const std::string& real, const std::string& name) {
  if (geteuid() != 0) return real;
  const std::string path = scratch("devices") + "/" + name;
  const struct stat st = status_of(real);
  REQUIRE(mknod(path.c_str(), S_IFCHR | 0666, st.st_rdev) == 0);
  return path;
}

// `-o path` of a quick run is refused with one line, and `path` is the same node afterwards.
void check_refused(const std::string& path, const std::string& kind) {
  INFO("-o " << path);
  const struct stat before = status_of(path);
  const Result r = run_adamgn(kRun + " -o " + path);
  check_one_line(r, "is " + kind + ", not a regular file; adamgn writes only regular files");
  CHECK(r.out.empty());
  const struct stat after = status_of(path);
  CHECK((after.st_mode & S_IFMT) == (before.st_mode & S_IFMT));
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_rdev == before.st_rdev);
}

}  // namespace

TEST_CASE("-o through a symlink writes the file it points to and keeps the link") {
  const std::string a = scratch("link-a"), b = scratch("link-b");
  {
    std::ofstream(a + "/target.json") << "old\n";
  }
  REQUIRE(symlink((a + "/target.json").c_str(), (b + "/link.json").c_str()) == 0);
  REQUIRE(run_adamgn(kRun + " -o " + b + "/link.json").code == 0);
  CHECK(fs::is_symlink(b + "/link.json"));
  CHECK(fs::read_symlink(b + "/link.json") == a + "/target.json");
  CHECK(is_result(a + "/target.json"));
  CHECK(temporaries(a) == 0);
  CHECK(temporaries(b) == 0);

  // A relative link to a file that does not exist yet: the file is created beside its link's target.
  REQUIRE(symlink("../link-a/new.json", (b + "/dangling.json").c_str()) == 0);
  REQUIRE(run_adamgn(kRun + " -o " + b + "/dangling.json").code == 0);
  CHECK(fs::is_symlink(b + "/dangling.json"));
  CHECK(fs::is_regular_file(fs::symlink_status(a + "/new.json")));
  CHECK(is_result(a + "/new.json"));

  // A link into a folder that does not exist is refused before the run.
  REQUIRE(symlink((a + "/missing/x.json").c_str(), (b + "/nowhere.json").c_str()) == 0);
  check_one_line(run_adamgn(kRun + " -o " + b + "/nowhere.json"), "folder " + a + "/missing does not exist");
  CHECK(fs::is_symlink(b + "/nowhere.json"));
}

TEST_CASE("-o a device, a FIFO, a socket or a folder: one line, exit 2, the node untouched") {
  check_refused(device_like("/dev/full", "full"), "a character device");
  check_refused(device_like("/dev/null", "null"), "a character device");
  const std::string dir = scratch("special");
  REQUIRE(mkfifo((dir + "/fifo").c_str(), 0666) == 0);
  check_refused(dir + "/fifo", "a FIFO");
  check_refused(dir, "a folder");
  const int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = dir + "/sock";
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::copy(sock_path.begin(), sock_path.end(), addr.sun_path);
  REQUIRE(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  check_refused(sock_path, "a socket");
  close(sock);
  // A link to a FIFO: the link and the FIFO both stay.
  REQUIRE(symlink((dir + "/fifo").c_str(), (dir + "/fifo-link.json").c_str()) == 0);
  const Result r = run_adamgn(kRun + " -o " + dir + "/fifo-link.json");
  check_one_line(r, "(a link to " + dir + "/fifo) is a FIFO");
  CHECK(fs::is_symlink(dir + "/fifo-link.json"));
  CHECK(fs::is_fifo(dir + "/fifo"));
  CHECK(temporaries(dir) == 0);
  if (geteuid() == 0) CHECK(fs::is_character_file(fs::symlink_status("/dev/full")));
}

TEST_CASE("plot -o and sweep --write-preset refuse a FIFO too") {
  const std::string dir = scratch("other-writers");
  REQUIRE(mkfifo((dir + "/fifo").c_str(), 0666) == 0);
  REQUIRE(run_adamgn(kRun + " -o " + dir + "/r.json").code == 0);
  check_one_line(run_adamgn("plot " + dir + "/r.json -o " + dir + "/fifo"), "-o " + dir + "/fifo is a FIFO");
  {
    std::ofstream(dir + "/tiny.json") << R"({"name": "tiny", "task": {"name": "quadratic", "dim": 4},
      "run": {"steps": 5, "seeds": 1}, "arms": [{"name": "adam", "precond": "adam", "lr": 0.01}]})";
  }
  const std::string sweep = "sweep --preset " + dir + "/tiny.json --grid lr=0.01,0.1 -q --out ";
  // Refused before the store folder is created.
  check_one_line(run_adamgn(sweep + dir + "/s1 --write-preset " + dir + "/fifo"), "--write-preset " + dir + "/fifo is a FIFO");
  CHECK_FALSE(fs::exists(dir + "/s1"));
  CHECK(fs::is_fifo(dir + "/fifo"));
  // The sweep's own files: a FIFO where result.json goes is refused when the runs are done.
  fs::create_directories(dir + "/s2");
  REQUIRE(mkfifo((dir + "/s2/result.json").c_str(), 0666) == 0);
  check_one_line(run_adamgn(sweep + dir + "/s2"), dir + "/s2/result.json is a FIFO");
  CHECK(fs::is_fifo(dir + "/s2/result.json"));
  // Its listing on a full stdout.
  const std::string err = dir + "/err";
  CHECK(run_adamgn(sweep + dir + "/s2 --list", ">/dev/full 2>" + err).code == 2);
  CHECK(slurp(err).find("cannot write standard output") != std::string::npos);
}

TEST_CASE("a replaced result file is a new, complete file with the old one's permissions") {
  const std::string dir = scratch("replace");
  const std::string path = dir + "/r.json";
  {
    std::ofstream(path) << "old\n";
  }
  REQUIRE(chmod(path.c_str(), 0640) == 0);
  const struct stat before = status_of(path);
  REQUIRE(run_adamgn(kRun + " -o " + path).code == 0);
  const struct stat after = status_of(path);
  CHECK(after.st_ino != before.st_ino);  // renamed into place, not rewritten in place
  CHECK((after.st_mode & 07777) == 0640);
  CHECK(is_result(path));
  CHECK(temporaries(dir) == 0);
  // A new file gets 0666 minus the umask.
  const mode_t mask = umask(022);
  umask(mask);
  REQUIRE(run_adamgn(kRun + " -o " + dir + "/new.json").code == 0);
  CHECK((status_of(dir + "/new.json").st_mode & 0777) == (0666 & ~mask));
}

TEST_CASE("stdout on a full device: one line, exit 2, with and without --jsonl") {
  for (const std::string extra : {"", " --jsonl", " --jsonl -o OUT"}) {
    const std::string dir = scratch("full-stdout");
    const std::string out = dir + "/out.json";
    std::remove(out.c_str());
    std::string args = kRun + extra;
    if (const auto at = args.find("OUT"); at != std::string::npos) args.replace(at, 3, out);
    INFO("adamgn " << args << " >/dev/full");
    const std::string err = dir + "/err";
    const Result r = run_adamgn(args, ">/dev/full 2>" + err);
    const std::string message = slurp(err);
    CHECK(r.code == 2);
    CHECK(lines(message) == 1);
    CHECK(message.find("adamgn: error: cannot write standard output: No space left on device") == 0);
    CHECK_FALSE(fs::exists(out));  // --jsonl failed first: the result file is not written
  }
  // Commands that print tables or lists.
  const std::string err = scratch("full-stdout") + "/err";
  CHECK(run_adamgn("presets", ">/dev/full 2>" + err).code == 2);
  CHECK(slurp(err).find("cannot write standard output") != std::string::npos);
  CHECK(run_adamgn("--help", ">/dev/full 2>" + err).code == 2);
  CHECK(lines(slurp(err)) == 1);
}

TEST_CASE("a closed stdout or stderr is an error, not a silent success") {
  const std::string dir = scratch("closed");
  const std::string err = dir + "/err";
  CHECK(run_adamgn(kRun, ">&- 2>" + err).code == 2);
  CHECK(lines(slurp(err)) == 1);
  CHECK(slurp(err).find("cannot write standard output: Bad file descriptor") != std::string::npos);
  CHECK(run_adamgn(kRun + " --jsonl -o " + dir + "/r.json", ">&- 2>" + err).code == 2);
  CHECK_FALSE(fs::exists(dir + "/r.json"));
  // With -o nothing goes to stdout: a closed stdout is no loss.
  CHECK(run_adamgn(kRun + " -o " + dir + "/r.json", ">&- 2>" + err).code == 0);
  CHECK(is_result(dir + "/r.json"));
  // The human summary on a closed stderr is lost output: no line can say so, but the exit does.
  CHECK(run_adamgn("quadratic --steps 5 -o " + dir + "/s.json", ">/dev/null 2>&-").code == 2);
  // On a full stderr as well.
  CHECK(run_adamgn("quadratic --steps 5 -o " + dir + "/s.json", ">/dev/null 2>/dev/full").code == 2);
}

TEST_CASE("write_atomically: folder missing, special files, stale temporary, a file-size limit") {
  using adamgn::UsageError;
  using adamgn::write_atomically;
  const std::string dir = scratch("writer");
  CHECK_THROWS_WITH_AS(write_atomically(dir + "/none/x.json", "x"), doctest::Contains("does not exist"), UsageError);
  CHECK_FALSE(fs::exists(dir + "/none"));
  REQUIRE(mkfifo((dir + "/fifo").c_str(), 0666) == 0);
  CHECK_THROWS_WITH_AS(write_atomically(dir + "/fifo", "x"), doctest::Contains("is a FIFO"), UsageError);
  CHECK(fs::is_fifo(dir + "/fifo"));
  CHECK_THROWS_AS(adamgn::check_output_path(dir + "/fifo"), UsageError);
  CHECK_NOTHROW(adamgn::check_output_path(dir + "/new.json"));
  CHECK_THROWS_WITH_AS(adamgn::check_output_folder(dir + "/fifo"), doctest::Contains("not a folder"), UsageError);
  CHECK_NOTHROW(adamgn::check_output_folder(dir + "/new"));

  // A temporary of this process id left by an earlier process is replaced, not an error.
  const std::string path = dir + "/r.json";
  const std::string stale = path + ".tmp." + adamgn::host_name() + "." + std::to_string(getpid());
  {
    std::ofstream(stale) << "stale";
  }
  write_atomically(path, "new\n");
  CHECK(slurp(path) == "new\n");
  CHECK_FALSE(fs::exists(stale));

  // Past a file-size limit the write stops short, then fails (EFBIG): the old file stays whole and
  // the temporary is removed.
  struct rlimit old_limit {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 1000;
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  bool threw = false;
  std::string message;
  try {
    write_atomically(path, std::string(5000, 'x'));
  } catch (const UsageError& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  CHECK(threw);
  CHECK(message == "cannot write " + path + ": File too large");
  CHECK(slurp(path) == "new\n");
  CHECK(temporaries(dir) == 0);
  // Within the limit the whole text arrives.
  write_atomically(path, std::string(5000, 'y'));
  CHECK(slurp(path) == std::string(5000, 'y'));
}
