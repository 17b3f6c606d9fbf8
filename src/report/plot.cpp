#include "report/plot.hpp"

#include "measures/measure.hpp"
#include "report/results.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

namespace adamgn {
namespace {

// Panel geometry in pixels: the data area and the padding around it inside one grid cell.
constexpr double kPlotW = 230, kPlotH = 150, kPadL = 64, kPadR = 16, kPadT = 26, kPadB = 44;
constexpr double kCellW = kPadL + kPlotW + kPadR, kCellH = kPadT + kPlotH + kPadB, kMargin = 16;

// One row of panels: a curve of the summaries, or a measure's series (summary.measures). The
// excess-loss row reads the loss curve less the task's loss floor (label noise).
struct Metric {
  std::string key, name;
  bool measure = false;
  double floor = 0.0;
  std::string source() const { return key == "excess_loss" ? "loss" : key; }
};
const Metric kMetrics[] = {{"loss", "loss"}, {"test_loss", "test loss"}, {"test_accuracy", "test accuracy"}};

// Finite points of one summary curve: step, mean and mean ± se.
struct Curve {
  std::vector<double> x, mean, lo, hi;
  double zero_at = NAN;  // log axis: first step whose mean is exactly 0 (not drawn)
};

struct Arm {
  std::string name, label, color, dash;
  std::size_t cell = 0;
  long n_ok = 0, n_diverged = 0;
  bool no_data = false;  // every metric empty: all runs diverged
  std::vector<Curve> curves;  // one per row
};

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  // Position of v between pixel a (at lo) and b (at hi), clamped to the axis.
  double at(double v, double a, double b) const {
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    if (!std::isfinite(t)) t = 0;
    return a + std::clamp(t, 0.0, 1.0) * (b - a);
  }
};

const json& field(const json& object, const char* key) {
  static const json none;
  if (!object.is_object()) return none;
  const auto it = object.find(key);
  return it == object.end() ? none : *it;
}

std::vector<double> numbers(const json& array) {
  std::vector<double> out;
  if (array.is_array())
    for (const auto& v : array) out.push_back(v.is_number() ? v.get<double>() : NAN);
  return out;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) return show_number(v.get<double>());
  return v.is_null() ? "-" : v.dump();
}

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  return out;
}

std::string num(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", x);
  return b;
}

// UTF-8 aware length and split, for wrapping and truncating text.
std::size_t glyphs(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Up to max_lines lines of at most width glyphs, broken at spaces; the last ends in "…" if cut.
std::vector<std::string> wrap(const std::string& text, std::size_t width, std::size_t max_lines) {
  std::vector<std::string> lines;
  std::istringstream words(text);
  std::string word, line;
  bool cut = false;
  while (words >> word) {
    if (!line.empty() && glyphs(line) + 1 + glyphs(word) > width) {
      if (lines.size() + 1 == max_lines) { cut = true; break; }
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (cut || glyphs(line) > width) {
    std::string kept;
    std::size_t n = 0;
    for (char c : line) {
      if ((c & 0xC0) != 0x80 && ++n > width - 1) break;
      kept += c;
    }
    line = kept + "…";
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

double nice_step(double range, double target) {
  const double raw = range / target, mag = std::pow(10.0, std::floor(std::log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

Axis linear_axis(double lo, double hi, bool extend) {
  if (!(hi > lo)) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d, hi += d;
  }
  Axis a;
  const double step = nice_step(hi - lo, 4);
  if (extend) lo = std::floor(lo / step) * step, hi = std::ceil(hi / step) * step;
  a.lo = lo, a.hi = hi;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; ++k)
    a.ticks.push_back(std::fabs(k) < 0.5 ? 0.0 : k * step);
  return a;
}

Axis log_axis(double lo, double hi) {
  Axis a;
  a.log = true;
  const int e0 = static_cast<int>(std::floor(std::log10(lo)));
  const int e1 = std::max(e0 + 1, static_cast<int>(std::ceil(std::log10(hi))));
  int every = 1;  // decades between ticks, for at most 6 ticks
  for (int step : {1, 2, 5, 10, 20, 50, 100})
    if ((every = step, (e1 - e0) / step <= 5)) break;
  a.lo = std::pow(10.0, e0), a.hi = std::pow(10.0, e1);
  for (int e = e0; e <= e1; ++e)
    if (e % every == 0) a.ticks.push_back(e);  // exponents
  return a;
}

std::string tick_label(double v, double step) {
  char b[32];
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (decimals > 6 || std::fabs(v) >= 1e7) std::snprintf(b, sizeof b, "%.3g", v);
  else std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string color_for(const std::string& label, std::map<std::string, std::string>& assigned) {
  static const std::map<std::string, std::string> fixed = {{"adam p=-0.5", "#1f77b4"}, {"gn p=-0.5", "#d62728"},
                                                           {"gn p=-1", "#2ca02c"},     {"adam p=-1", "#9467bd"},
                                                           {"sgd", "#7f7f7f"}};
  static const char* extra[] = {"#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22"};
  if (const auto it = fixed.find(label); it != fixed.end()) return it->second;
  if (const auto it = assigned.find(label); it != assigned.end()) return it->second;
  return assigned[label] = extra[assigned.size() % 5];
}

std::string label_of(const json& arm) {
  const json& opt = field(arm, "optimizer");
  const json &precond = field(opt, "precond"), &power = field(opt, "power");
  if (!precond.is_string()) return text_of(field(arm, "name"));
  const std::string p = precond.get<std::string>();
  return p == "sgd" || !power.is_number() ? p : p + " p=" + show_number(power.get<double>());
}

Curve read_curve(const json& summary, const Metric& metric, bool unit_interval) {
  const json& measures = field(summary, "measures");
  const std::string key = metric.source();
  const auto steps = numbers(field(metric.measure ? measures : summary, "steps"));
  const auto mean = numbers(metric.measure ? field(field(measures, key.c_str()), "mean") : field(summary, (key + "_mean").c_str()));
  const auto se = numbers(metric.measure ? field(field(measures, key.c_str()), "se") : field(summary, (key + "_se").c_str()));
  Curve c;
  for (std::size_t i = 0; i < std::min(steps.size(), mean.size()); ++i) {
    if (!std::isfinite(steps[i]) || !std::isfinite(mean[i])) continue;
    const double s = i < se.size() && std::isfinite(se[i]) ? std::fabs(se[i]) : 0.0;
    const double m = mean[i] - metric.floor;
    c.x.push_back(steps[i]);
    c.mean.push_back(m);
    c.lo.push_back(unit_interval ? std::max(0.0, m - s) : m - s);
    c.hi.push_back(unit_interval ? std::min(1.0, m + s) : m + s);
  }
  return c;
}

// Shared y axis of one row. A loss row whose positive values span more than a factor 30 gets a
// log axis: the band's lower edge is raised to a positive floor and points with a mean of exactly 0
// are dropped (zero_at keeps the first such step).
Axis row_axis(std::vector<Arm>& arms, std::size_t row, bool may_log) {
  double pos = INFINITY, mlo = INFINITY, lo = INFINITY, lo_pos = INFINITY, hi = -INFINITY;
  for (const auto& a : arms)
    for (std::size_t i = 0; i < a.curves[row].x.size(); ++i) {
      const Curve& c = a.curves[row];
      mlo = std::min(mlo, c.mean[i]), lo = std::min(lo, c.lo[i]), hi = std::max(hi, c.hi[i]);
      if (c.mean[i] > 0) pos = std::min(pos, c.mean[i]), lo_pos = std::min(lo_pos, c.lo[i]);
    }
  if (!std::isfinite(mlo)) return linear_axis(0, 1, true);
  const double floor = pos / 3;
  if (!may_log || mlo < 0 || !std::isfinite(pos) || !(hi / std::max(lo_pos, floor) > 30))
    return linear_axis(lo, hi, true);
  for (auto& a : arms) {
    Curve& c = a.curves[row];
    Curve kept;
    for (std::size_t i = 0; i < c.x.size(); ++i) {
      if (c.mean[i] <= 0) {
        if (!std::isfinite(kept.zero_at)) kept.zero_at = c.x[i];
        continue;
      }
      kept.x.push_back(c.x[i]), kept.mean.push_back(c.mean[i]);
      kept.lo.push_back(std::max(c.lo[i], floor)), kept.hi.push_back(c.hi[i]);
    }
    c = std::move(kept);
  }
  return log_axis(std::max(lo_pos, floor), hi);
}

std::string path_of(const Curve& c, const Axis& ax, const Axis& ay, double x0, double y0, bool band) {
  std::ostringstream d;
  auto point = [&](std::size_t i, double y, bool first) {
    d << (first ? "M" : "L") << num(ax.at(c.x[i], x0, x0 + kPlotW)) << "," << num(ay.at(y, y0 + kPlotH, y0));
  };
  for (std::size_t i = 0; i < c.x.size(); ++i) point(i, band ? c.hi[i] : c.mean[i], i == 0);
  if (!band) return c.x.size() == 1 ? d.str() + "l0,0" : d.str();
  for (std::size_t i = c.x.size(); i-- > 0;) point(i, c.lo[i], false);
  return d.str() + "Z";
}

// What a figure shows: rows (metrics present in any summary, loss first) and cells (basis, batch)
// in order of first appearance, and the arms with their curves, one per row.
struct Figure {
  std::vector<Metric> rows;
  std::vector<std::pair<std::string, std::string>> cells;
  std::vector<Arm> arms;
};

Figure read_figure(const json& result) {
  const json& schema = field(result, "schema");
  if (!schema.is_string() || schema.get<std::string>() != "adamgn.result/1")
    throw UsageError("not an adamgn result document (schema " + (schema.is_null() ? std::string("missing") : show(schema)) +
                     ", expected adamgn.result/1)");
  const json& arms_json = field(result, "arms");
  if (!arms_json.is_array() || arms_json.empty()) throw UsageError("result document has no arms to plot");

  Figure fig;
  for (const Metric& m : kMetrics)
    for (const auto& a : arms_json)
      if (field(field(a, "summary"), (m.key + "_mean").c_str()).is_array()) {
        fig.rows.push_back(m);
        break;
      }
  if (fig.rows.empty() || fig.rows[0].key != "loss") fig.rows.insert(fig.rows.begin(), kMetrics[0]);
  // Under a loss floor the total loss flattens onto it; the excess shows the approach.
  if (const double floor = loss_floor(result); !std::isnan(floor))
    fig.rows.insert(fig.rows.begin() + 1, Metric{"excess_loss", "excess loss (floor " + show_number(floor) + ")", false, floor});
  // A row more for each recorded measure: its primary series.
  for (const Measure& m : measure_registry())
    for (const auto& a : arms_json)
      if (field(field(field(a, "summary"), "measures"), m.primary.c_str()).is_object()) {
        fig.rows.push_back(Metric{m.primary, m.primary, true});
        break;
      }
  std::map<std::string, std::string> extra_colors;
  std::map<std::pair<std::size_t, std::string>, int> seen;  // (cell, label) -> arms so far
  for (const auto& a : arms_json) {
    Arm arm;
    arm.name = text_of(field(a, "name"));
    arm.label = label_of(a);
    arm.color = color_for(arm.label, extra_colors);
    const json& opt = field(a, "optimizer");
    const std::pair<std::string, std::string> cell{text_of(field(opt, "basis")), text_of(field(opt, "batch"))};
    arm.cell = static_cast<std::size_t>(std::find(fig.cells.begin(), fig.cells.end(), cell) - fig.cells.begin());
    if (arm.cell == fig.cells.size()) fig.cells.push_back(cell);
    static const char* dashes[] = {"", "6,3", "2,2", "8,3,2,3"};
    arm.dash = dashes[seen[{arm.cell, arm.label}]++ % 4];
    const json& summary = field(a, "summary");
    arm.n_ok = field(summary, "n_ok").is_number() ? field(summary, "n_ok").get<long>() : 0;
    arm.n_diverged = field(summary, "n_diverged").is_number() ? field(summary, "n_diverged").get<long>() : 0;
    for (const Metric& m : fig.rows) arm.curves.push_back(read_curve(summary, m, m.key == "test_accuracy"));
    arm.no_data = std::all_of(arm.curves.begin(), arm.curves.end(), [](const Curve& c) { return c.x.empty(); });
    fig.arms.push_back(std::move(arm));
  }
  return fig;
}

// The given title, else the preset's name and claim, else "adamgn result".
std::string title_of(const json& result, const std::string& given) {
  if (!given.empty()) return given;
  const json& preset = field(result, "preset");
  const json& claim = field(result, "claim");
  std::string title = preset.is_string() ? preset.get<std::string>() : "";
  if (claim.is_string() && !claim.get<std::string>().empty()) title += (title.empty() ? "" : ": ") + claim.get<std::string>();
  return title.empty() ? "adamgn result" : title;
}

// The title and the legend (a swatch per label, one per dashed arm, then notes on divergence and
// on means that reached 0), flowing from the top; returns where the panels start.
double write_heading(std::ostringstream& body, const Figure& fig, const std::string& title, double width) {
  double y = kMargin;
  for (const auto& line : wrap(title, static_cast<std::size_t>((width - 2 * kMargin) / 8.0), 3)) {
    y += 18;
    body << "<text class=\"title\" x=\"" << num(kMargin) << "\" y=\"" << num(y)
         << "\" font-size=\"14\" font-weight=\"bold\">" << esc(line) << "</text>\n";
  }
  y += 10;
  double x = kMargin;
  auto legend_item = [&](const std::string& text, const std::string& color, const std::string& dash, bool swatch) {
    const double w = (swatch ? 34 : 0) + 6.5 * glyphs(text) + 18;
    if (x > kMargin && x + w > width - kMargin) x = kMargin, y += 18;
    body << "<g class=\"legend-item\">";
    if (swatch)
      body << "<rect x=\"" << num(x) << "\" y=\"" << num(y + 3) << "\" width=\"26\" height=\"10\" fill=\"" << color
           << "\" fill-opacity=\"0.2\"/><line x1=\"" << num(x) << "\" y1=\"" << num(y + 8) << "\" x2=\"" << num(x + 26)
           << "\" y2=\"" << num(y + 8) << "\" stroke=\"" << color << "\" stroke-width=\"2\""
           << (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") << "/>";
    body << "<text x=\"" << num(x + (swatch ? 32 : 0)) << "\" y=\"" << num(y + 12) << "\" font-size=\"12\" fill=\""
         << (swatch ? "#222" : color) << "\">" << esc(text) << "</text></g>\n";
    x += w;
  };
  std::vector<std::string> labels;
  for (const auto& a : fig.arms)
    if (std::find(labels.begin(), labels.end(), a.label) == labels.end()) {
      labels.push_back(a.label);
      legend_item(a.label, a.color, "", true);
    }
  for (const auto& a : fig.arms)
    if (!a.dash.empty()) legend_item(a.name, a.color, a.dash, true);
  for (const auto& a : fig.arms) {
    if (a.no_data || a.n_diverged > 0)
      legend_item(a.name + ": " + (a.no_data ? std::string("all diverged")
                                        : std::to_string(a.n_diverged) + " of " + std::to_string(a.n_ok + a.n_diverged) +
                                              " runs diverged"),
                  a.color, "", false);
    for (std::size_t r = 0; r < fig.rows.size(); ++r)
      if (std::isfinite(a.curves[r].zero_at))
        legend_item(a.name + ": " + fig.rows[r].name + " 0 from step " + show_number(a.curves[r].zero_at) + " ▼", a.color,
                    "", false);
  }
  return y + 26;
}

// The panel of row r and cell c, whose data area starts at (px, py): frame, ticks, axis labels
// and each arm's band and mean.
void write_panel(std::ostringstream& body, const Figure& fig, std::size_t r, std::size_t c, const Axis& ax,
                 const Axis& yr, double px, double py) {
  const std::string cell = "basis " + fig.cells[c].first + " · batch " + fig.cells[c].second;
  body << "<g class=\"panel\" data-metric=\"" << fig.rows[r].key << "\" data-yscale=\"" << (yr.log ? "log" : "linear")
       << "\" data-cell=\"" << esc(cell) << "\">\n<text x=\"" << num(px + kPlotW / 2) << "\" y=\"" << num(py - 8)
       << "\" font-size=\"12\" text-anchor=\"middle\">" << esc(cell) << "</text>\n<rect x=\"" << num(px) << "\" y=\""
       << num(py) << "\" width=\"" << num(kPlotW) << "\" height=\"" << num(kPlotH)
       << "\" fill=\"#fff\" stroke=\"#999\"/>\n";
  for (double t : yr.ticks) {
    const double v = yr.log ? std::pow(10.0, t) : t, ty = yr.at(v, py + kPlotH, py);
    body << "<line x1=\"" << num(px) << "\" y1=\"" << num(ty) << "\" x2=\"" << num(px + kPlotW) << "\" y2=\""
         << num(ty) << "\" stroke=\"#e4e4e4\"/><text x=\"" << num(px - 5) << "\" y=\"" << num(ty + 4)
         << "\" font-size=\"10\" text-anchor=\"end\">";
    if (yr.log) body << "10<tspan dy=\"-5\" font-size=\"8\">" << static_cast<int>(t) << "</tspan>";
    else body << tick_label(t, yr.ticks.size() > 1 ? yr.ticks[1] - yr.ticks[0] : 1);
    body << "</text>\n";
  }
  for (double t : ax.ticks) {
    const double tx = ax.at(t, px, px + kPlotW);
    body << "<line x1=\"" << num(tx) << "\" y1=\"" << num(py + kPlotH) << "\" x2=\"" << num(tx) << "\" y2=\""
         << num(py + kPlotH + 4) << "\" stroke=\"#999\"/><text x=\"" << num(tx) << "\" y=\"" << num(py + kPlotH + 15)
         << "\" font-size=\"10\" text-anchor=\"middle\">"
         << tick_label(t, ax.ticks.size() > 1 ? ax.ticks[1] - ax.ticks[0] : 1) << "</text>\n";
  }
  const double ly = py + kPlotH / 2, lx = px - kPadL + 12;
  body << "<text x=\"" << num(px + kPlotW / 2) << "\" y=\"" << num(py + kPlotH + 32)
       << "\" font-size=\"11\" text-anchor=\"middle\">step</text>\n<text x=\"" << num(lx) << "\" y=\"" << num(ly)
       << "\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 " << num(lx) << " " << num(ly) << ")\">"
       << fig.rows[r].name << "</text>\n";
  bool any = false;
  for (const auto& a : fig.arms) {
    if (a.cell != c || a.curves[r].x.empty()) continue;
    any = true;
    body << "<g class=\"series\" data-arm=\"" << esc(a.name) << "\">\n<path class=\"band\" d=\""
         << path_of(a.curves[r], ax, yr, px, py, true) << "\" fill=\"" << a.color
         << "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n<path class=\"mean\" d=\""
         << path_of(a.curves[r], ax, yr, px, py, false) << "\" fill=\"none\" stroke=\"" << a.color
         << "\" stroke-width=\"1.6\" stroke-linejoin=\"round\" stroke-linecap=\"round\""
         << (a.dash.empty() ? "" : " stroke-dasharray=\"" + a.dash + "\"") << "/>\n";
    if (std::isfinite(a.curves[r].zero_at)) {
      const double zx = ax.at(a.curves[r].zero_at, px, px + kPlotW), zy = py + kPlotH;
      body << "<path class=\"zero\" d=\"M" << num(zx - 4) << "," << num(zy - 8) << "h8L" << num(zx) << ","
           << num(zy - 1) << "Z\" fill=\"" << a.color << "\"/>\n";
    }
    body << "</g>\n";
  }
  if (!any)
    body << "<text x=\"" << num(px + kPlotW / 2) << "\" y=\"" << num(ly) << "\" font-size=\"11\" fill=\"#888\" "
         << "text-anchor=\"middle\">" << (fig.rows[r].measure ? "not recorded for these arms" : "no data (all runs diverged)")
         << "</text>\n";
  body << "</g>\n";
}

}  // namespace

std::string plot_svg(const json& result, const PlotOptions& options) {
  Figure fig = read_figure(result);

  // Axes: x shared by every panel, y shared along a row.
  double xlo = INFINITY, xhi = -INFINITY;
  for (const auto& a : fig.arms)
    for (const auto& c : a.curves)
      for (double x : c.x) xlo = std::min(xlo, x), xhi = std::max(xhi, x);
  const Axis ax = std::isfinite(xlo) ? linear_axis(xlo, xhi, false) : linear_axis(0, 1, false);
  std::vector<Axis> ay;
  for (std::size_t r = 0; r < fig.rows.size(); ++r)
    ay.push_back(row_axis(fig.arms, r, fig.rows[r].key != "test_accuracy"));

  // Title, legend and notes flow from the top; panels follow.
  const double width = std::max(640.0, 2 * kMargin + fig.cells.size() * kCellW);
  const std::string title = title_of(result, options.title);
  std::ostringstream body;
  const double top = write_heading(body, fig, title, width);
  for (std::size_t r = 0; r < fig.rows.size(); ++r)
    for (std::size_t c = 0; c < fig.cells.size(); ++c)
      write_panel(body, fig, r, c, ax, ay[r], kMargin + c * kCellW + kPadL, top + r * kCellH + kPadT);

  const double height = top + fig.rows.size() * kCellH + kMargin;
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width)
      << "\" height=\"" << num(height) << "\" viewBox=\"0 0 " << num(width) << " " << num(height)
      << "\" font-family=\"sans-serif\">\n<title>" << esc(title) << "</title>\n<rect width=\"100%\" height=\"100%\" "
      << "fill=\"#fff\"/>\n"
      << body.str() << "</svg>\n";
  return svg.str();
}

}  // namespace adamgn
