// adamgn plot: the SVG is well-formed XML, has one panel per (cell, metric) and one series per arm
// and metric with data, picks log axes only for losses spanning decades, and escapes all text.
#include "helpers.hpp"
#include "report/plot.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using adamgn::json;

namespace {

// Empty if `s` is a well-formed XML document (optional prolog, one root element); else the reason.
std::string xml_error(const std::string& s) {
  std::size_t i = 0, roots = 0;
  std::vector<std::string> open;
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '-' || c == '.'; };
  auto read_name = [&] {
    const std::size_t b = i;
    while (i < s.size() && name_char(s[i])) ++i;
    return s.substr(b, i - b);
  };
  auto skip_space = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto entity_ok = [&](std::size_t at) {
    const std::size_t end = s.find(';', at);
    if (end == std::string::npos || end - at > 10) return false;
    const std::string e = s.substr(at + 1, end - at - 1);
    if (e == "amp" || e == "lt" || e == "gt" || e == "quot" || e == "apos") return true;
    if (e.size() < 2 || e[0] != '#') return false;
    const bool hex = e[1] == 'x';
    if (e.size() == (hex ? 2u : 1u)) return false;
    return std::all_of(e.begin() + (hex ? 2 : 1), e.end(),
                       [&](char c) { return hex ? std::isxdigit(static_cast<unsigned char>(c)) : std::isdigit(static_cast<unsigned char>(c)); });
  };
  if (s.rfind("<?xml", 0) == 0) {
    i = s.find("?>");
    if (i == std::string::npos) return "unterminated prolog";
    i += 2;
  }
  while (i < s.size()) {
    const char c = s[i];
    if (c == '&') {
      if (!entity_ok(i)) return "bad entity at " + std::to_string(i);
      ++i;
    } else if (c != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(c))) return "text outside the root element";
      ++i;
    } else if (s.compare(i, 4, "<!--") == 0) {
      i = s.find("-->", i);
      if (i == std::string::npos) return "unterminated comment";
      i += 3;
    } else if (s.compare(i, 2, "</") == 0) {
      i += 2;
      const std::string name = read_name();
      skip_space();
      if (i >= s.size() || s[i] != '>') return "bad end tag " + name;
      if (open.empty() || open.back() != name) return "end tag " + name + " does not match";
      open.pop_back();
      ++i;
    } else {
      ++i;
      const std::string name = read_name();
      if (name.empty()) return "stray '<' at " + std::to_string(i - 1);
      if (open.empty() && roots++ > 0) return "more than one root element";
      while (true) {
        const std::size_t before = i;
        skip_space();
        if (i >= s.size()) return "unterminated tag " + name;
        if (s.compare(i, 2, "/>") == 0) {
          i += 2;
          break;
        }
        if (s[i] == '>') {
          open.push_back(name);
          ++i;
          break;
        }
        if (i == before) return "no space before attribute in " + name;
        const std::string attr = read_name();
        if (attr.empty() || i >= s.size() || s[i] != '=') return "bad attribute in " + name;
        const char q = s[++i];
        if (q != '"' && q != '\'') return "unquoted attribute " + attr;
        const std::size_t end = s.find(q, ++i);
        if (end == std::string::npos) return "unterminated attribute " + attr;
        for (; i < end; ++i)
          if (s[i] == '<' || (s[i] == '&' && !entity_ok(i))) return "bad character in attribute " + attr;
        ++i;
      }
    }
  }
  if (!open.empty()) return "unclosed element " + open.back();
  return roots == 1 ? "" : "no root element";
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

json curve(const std::vector<double>& values) { return json(values); }

// One arm with a summary; metrics maps a metric key ("loss", "test_loss", ...) to its mean values.
json arm(const std::string& name, const std::string& precond, double power, const std::string& basis, json batch,
         const std::vector<std::pair<std::string, std::vector<double>>>& metrics) {
  json summary = {{"n_ok", 3}, {"n_diverged", 0}};
  std::vector<double> steps;
  for (std::size_t i = 0; i < (metrics.empty() ? 0 : metrics[0].second.size()); ++i) steps.push_back(10.0 * i);
  summary["steps"] = steps;
  for (const auto& [key, mean] : metrics) {
    summary[key + "_mean"] = curve(mean);
    std::vector<double> se;
    for (double m : mean) se.push_back(0.1 * m);
    summary[key + "_se"] = se;
  }
  if (!metrics.empty() && metrics[0].second.empty()) summary["n_ok"] = 0, summary["n_diverged"] = 3;
  return {{"name", name},
          {"optimizer", {{"precond", precond}, {"power", power}, {"basis", basis}, {"batch", batch}}},
          {"runs", json::array()},
          {"summary", summary}};
}

json result(const std::vector<json>& arms, const std::string& claim = "a claim") {
  return {{"schema", "adamgn.result/1"}, {"preset", "demo"}, {"claim", claim}, {"arms", arms}};
}

// The stroke color of the mean line of the series for arm `name` (escaped as in the output).
std::string mean_color(const std::string& svg, const std::string& name, std::size_t nth = 0) {
  std::size_t at = svg.find("data-arm=\"" + name + "\"");
  for (std::size_t k = 0; k < nth && at != std::string::npos; ++k) at = svg.find("data-arm=\"" + name + "\"", at + 1);
  if (at == std::string::npos) return "";
  at = svg.find("stroke=\"", svg.find("class=\"mean\"", at)) + 8;
  return svg.substr(at, svg.find('"', at) - at);
}

const std::vector<double> kFalling = {1.0, 0.6, 0.4, 0.3}, kTest = {1.1, 0.7, 0.5, 0.45};

}  // namespace

TEST_CASE("plot: the XML checker accepts good documents and rejects broken ones") {
  CHECK(xml_error("<?xml version=\"1.0\"?>\n<a x=\"1\" y='&amp;'><b/>t &lt; &#38; &#x26;</a>\n") == "");
  CHECK(xml_error("<a><b></a></b>") != "");
  CHECK(xml_error("<a x=1/>") != "");
  CHECK(xml_error("<a>&foo;</a>") != "");
  CHECK(xml_error("<a>x & y</a>") != "");
  CHECK(xml_error("<a>x < y</a>") != "");
  CHECK(xml_error("<a x=\"<\"/>") != "");
  CHECK(xml_error("<a>") != "");
  CHECK(xml_error("<a/><b/>") != "");
  CHECK(xml_error("<a x=\"1\"y=\"2\"/>") != "");
}

TEST_CASE("plot: one panel per cell and metric, one series per arm and metric with data") {
  const json doc = result({arm("adam id", "adam", -0.5, "identity", 32, {{"loss", kFalling}, {"test_loss", kTest}}),
                           arm("gn id", "gn", -1, "identity", 32, {{"loss", kFalling}, {"test_loss", kTest}}),
                           arm("gn kron", "gn", -0.5, "kronecker", 32, {{"loss", kFalling}, {"test_loss", kTest}}),
                           arm("gn kron lost", "gn", -0.5, "kronecker", 32, {{"loss", {}}, {"test_loss", {}}})});
  const std::string svg = adamgn::plot_svg(doc);
  CHECK(xml_error(svg) == "");
  CHECK(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(count(svg, "class=\"panel\"") == 2 * 2);
  CHECK(count(svg, "class=\"series\"") == 3 * 2);
  CHECK(count(svg, "class=\"band\"") == 3 * 2);
  CHECK(count(svg, "class=\"mean\"") == 3 * 2);
  CHECK(count(svg, "data-metric=\"test_loss\"") == 2);
  CHECK(count(svg, "data-metric=\"test_accuracy\"") == 0);
  CHECK(count(svg, "data-arm=\"gn kron lost\"") == 0);
  CHECK(svg.find("gn kron lost: all diverged") != std::string::npos);
  CHECK(svg.find("basis identity · batch 32") < svg.find("basis kronecker · batch 32"));
  CHECK(svg.find(">step</text>") != std::string::npos);
  CHECK(svg.find(">test loss</text>") != std::string::npos);
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  CHECK(lower.find("nan") == std::string::npos);
  CHECK(lower.find("inf") == std::string::npos);
}

TEST_CASE("plot: a task with a loss floor gets an excess-loss row under the loss") {
  json doc = result({arm("adam id", "adam", -0.5, "identity", 1, {{"loss", {3.0, 1.0, 0.6, 0.5001}}})});
  CHECK(count(adamgn::plot_svg(doc), "data-metric=\"excess_loss\"") == 0);
  doc["task_info"] = {{"loss_floor", 0.5}};
  const std::string svg = adamgn::plot_svg(doc);
  CHECK(xml_error(svg) == "");
  CHECK(count(svg, "data-metric=\"excess_loss\"") == 1);
  CHECK(svg.find("data-metric=\"loss\"") < svg.find("data-metric=\"excess_loss\""));
  CHECK(svg.find(">excess loss (floor 0.5)</text>") != std::string::npos);
  // The excess runs from 2.5 to 1e-4, more than a factor 30: a log axis down to 10^-4.
  const std::size_t panel = svg.find("data-metric=\"excess_loss\"");
  CHECK(svg.find("data-yscale=\"log\"", panel) == panel + std::string("data-metric=\"excess_loss\" ").size());
  CHECK(svg.find("<tspan dy=\"-5\" font-size=\"8\">-4</tspan>", panel) != std::string::npos);
}

TEST_CASE("plot: a 2x2 grid with three metrics is 3 rows x 4 columns") {
  std::vector<json> arms;
  for (const char* basis : {"identity", "kronecker"})
    for (const json& batch : {json(32), json("full")})
      for (const char* p : {"adam", "gn"})
        arms.push_back(arm(std::string(p) + " " + basis + " " + batch.dump(), p, -0.5, basis, batch,
                           {{"loss", kFalling}, {"test_loss", kTest}, {"test_accuracy", {0.5, 0.6, 0.8, 0.9}}}));
  const std::string svg = adamgn::plot_svg(result(arms));
  CHECK(xml_error(svg) == "");
  CHECK(count(svg, "class=\"panel\"") == 12);
  CHECK(count(svg, "class=\"series\"") == 8 * 3);
  CHECK(svg.find("basis kronecker · batch full") != std::string::npos);
  CHECK(svg.find("basis identity · batch full") < svg.find("basis kronecker · batch 32"));
}

TEST_CASE("plot: log y only for a loss spanning decades; accuracy always linear") {
  const json wide = result({arm("a", "adam", -0.5, "identity", 8,
                                {{"loss", {1, 1e-2, 1e-4, 1e-6}}, {"test_accuracy", {0.01, 0.5, 0.9, 0.99}}})});
  const std::string svg = adamgn::plot_svg(wide);
  CHECK(xml_error(svg) == "");
  CHECK(svg.find("data-metric=\"loss\" data-yscale=\"log\"") != std::string::npos);
  CHECK(svg.find("data-metric=\"test_accuracy\" data-yscale=\"linear\"") != std::string::npos);
  CHECK(svg.find("10<tspan") != std::string::npos);

  const std::string narrow = adamgn::plot_svg(result({arm("a", "adam", -0.5, "identity", 8, {{"loss", {0.5, 0.4, 0.3, 0.2}}})}));
  CHECK(narrow.find("data-metric=\"loss\" data-yscale=\"linear\"") != std::string::npos);
  CHECK(narrow.find("data-yscale=\"log\"") == std::string::npos);

  // A mean of exactly 0 is left out of a log axis and marked; a negative mean forces a linear axis.
  const std::string zero = adamgn::plot_svg(result({arm("a", "adam", -0.5, "identity", 8, {{"loss", {1, 1e-3, 1e-6, 0}}})}));
  CHECK(xml_error(zero) == "");
  CHECK(zero.find("data-yscale=\"log\"") != std::string::npos);
  CHECK(count(zero, "class=\"zero\"") == 1);
  CHECK(zero.find("a: loss 0 from step 30") != std::string::npos);
  const std::string negative = adamgn::plot_svg(result({arm("a", "adam", -0.5, "identity", 8, {{"loss", {1, 1e-3, -1e-6}}})}));
  CHECK(negative.find("data-yscale=\"log\"") == std::string::npos);
}

TEST_CASE("plot: arm names and titles are escaped; the title is truncated to fit") {
  const std::string name = "gn^-1/2 <b & \"q\" 'x'>";
  const std::string claim(400, 'w');
  const std::string svg = adamgn::plot_svg(result({arm(name, "gn", -0.5, "a&b", 8, {{"loss", kFalling}})}, "x < y & " + claim));
  CHECK(xml_error(svg) == "");
  CHECK(svg.find("data-arm=\"gn^-1/2 &lt;b &amp; &quot;q&quot; &apos;x&apos;&gt;\"") != std::string::npos);
  CHECK(svg.find(name) == std::string::npos);
  CHECK(svg.find("basis a&amp;b") != std::string::npos);
  CHECK(svg.find("<title>demo: x &lt; y &amp; " + claim + "</title>") != std::string::npos);
  CHECK(svg.find("…</text>") != std::string::npos);

  const std::string titled = adamgn::plot_svg(result({arm("a", "gn", -1, "identity", 8, {{"loss", kFalling}})}),
                                              adamgn::PlotOptions{"My <figure>"});
  CHECK(titled.find("<title>My &lt;figure&gt;</title>") != std::string::npos);
}

TEST_CASE("plot: colors follow the preconditioner label across panels") {
  const json doc = result({arm("adam small", "adam", -0.5, "identity", 8, {{"loss", kFalling}}),
                           arm("gn small", "gn", -1, "identity", 8, {{"loss", kFalling}}),
                           arm("adam large", "adam", -0.5, "identity", 512, {{"loss", kFalling}}),
                           arm("gn large", "gn", -1, "identity", 512, {{"loss", kFalling}})});
  const std::string svg = adamgn::plot_svg(doc);
  CHECK(mean_color(svg, "adam small") != "");
  CHECK(mean_color(svg, "adam small") == mean_color(svg, "adam large"));
  CHECK(mean_color(svg, "gn small") == mean_color(svg, "gn large"));
  CHECK(mean_color(svg, "adam small") != mean_color(svg, "gn small"));
  CHECK(count(svg, ">adam p=-0.5</text>") == 1);
  CHECK(count(svg, ">gn p=-1</text>") == 1);

  // Two arms with one label in one cell: same color, the second dashed and named in the legend.
  const std::string twin = adamgn::plot_svg(result({arm("adam lr1", "adam", -0.5, "identity", 8, {{"loss", kFalling}}),
                                                    arm("adam lr2", "adam", -0.5, "identity", 8, {{"loss", kTest}})}));
  CHECK(mean_color(twin, "adam lr1") == mean_color(twin, "adam lr2"));
  CHECK(count(twin, "stroke-dasharray") == 2);  // the series and its legend swatch
  CHECK(twin.find(">adam lr2</text>") != std::string::npos);
}

TEST_CASE("plot: non-finite and missing points are skipped") {
  json a = arm("a", "adam", -0.5, "identity", 8, {{"loss", kFalling}});
  a["summary"]["loss_mean"][1] = nullptr;
  a["summary"]["loss_se"][2] = "x";
  const std::string svg = adamgn::plot_svg(result({a}));
  CHECK(xml_error(svg) == "");
  CHECK(count(svg, "class=\"series\"") == 1);
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  CHECK(lower.find("nan") == std::string::npos);
}

TEST_CASE("plot: a document that is not a result is a UsageError") {
  CHECK_THROWS_AS(adamgn::plot_svg(json{{"schema", "adamgn.experiment/1"}, {"arms", json::array()}}), adamgn::UsageError);
  CHECK_THROWS_AS(adamgn::plot_svg(json::array()), adamgn::UsageError);
  CHECK_THROWS_AS(adamgn::plot_svg(json{{"schema", "adamgn.result/1"}}), adamgn::UsageError);
  CHECK_THROWS_AS(adamgn::plot_svg(json{{"schema", "adamgn.result/1"}, {"arms", json::array()}}), adamgn::UsageError);
}

TEST_CASE("plot: the command writes the SVG, and bad input is one line with exit code 2") {
  const std::string dir = adamgn::test::temp_dir("plot");
  auto write = [&](const std::string& file, const std::string& text) {
    std::ofstream(dir + "/" + file) << text;
    return dir + "/" + file;
  };
  auto run = [&](const std::string& args, std::string& err) {
    const int status = std::system((std::string(ADAMGN_BINARY) + " plot " + args + " 2>" + dir + "/err").c_str());
    std::ifstream in(dir + "/err");
    std::stringstream ss;
    ss << in.rdbuf();
    err = ss.str();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  const std::string good = write("good.json", result({arm("a", "gn", -1, "identity", 8, {{"loss", kFalling}})}).dump());
  const std::string svg = dir + "/fig.svg";
  std::string err;
  CHECK(run(good + " -o " + svg + " --title T", err) == 0);
  std::ifstream in(svg);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(xml_error(text.str()) == "");
  CHECK(text.str().find("<title>T</title>") != std::string::npos);

  const std::string bad_out = dir + "/bad.svg";
  for (const std::string& input : {dir + "/missing.json", write("broken.json", "{\"schema\": "),
                                   write("other.json", "{\"schema\": \"adamgn.experiment/1\"}")}) {
    INFO(input);
    CHECK(run(input + " -o " + bad_out, err) == 2);
    CHECK(err.rfind("adamgn: error: ", 0) == 0);
    CHECK(count(err, "\n") == 1);
    CHECK(access(bad_out.c_str(), F_OK) != 0);
  }
  std::filesystem::remove_all(dir);
}
