// The flag parser shared by the subcommands and the output-path guard; see cli.h.
#include "cli/cli.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <type_traits>

#include "engine/planner.h"
#include "platform/atomic_file.h"

namespace gantry::cli {
namespace {

template <class T>
std::string show(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", double(v));
    return buf;
  } else {
    return std::to_string(v);
  }
}

}  // namespace

template <class T>
Status parse_number(const std::string& flag, const std::string& text, T lo, T hi, T& out) {
  T v{};
  bool whole = false;
  if constexpr (std::is_floating_point_v<T>) {
    // strtod rather than from_chars: it also reads hex floats, as users of printf("%a") expect.
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    whole = !text.empty() && end == text.c_str() + text.size() && std::isfinite(d);
    v = T(d);
    if (whole && !std::isfinite(v)) whole = false;  // finite as a double, not as a float
  } else {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    whole = ec == std::errc() && end == text.data() + text.size();
    if (ec == std::errc::result_out_of_range)
      return Status::error(flag + " " + text + " is out of range [" + show(lo) + ", " + show(hi) + "]");
  }
  if (!whole) return Status::error(flag + " takes a number, not '" + text + "'");
  if (!(v >= lo && v <= hi))
    return Status::error(flag + " " + text + " is out of range [" + show(lo) + ", " + show(hi) + "]");
  out = v;
  return {};
}

template Status parse_number(const std::string&, const std::string&, int, int, int&);
template Status parse_number(const std::string&, const std::string&, int64_t, int64_t, int64_t&);
template Status parse_number(const std::string&, const std::string&, uint64_t, uint64_t, uint64_t&);
template Status parse_number(const std::string&, const std::string&, float, float, float&);
template Status parse_number(const std::string&, const std::string&, double, double, double&);

Flags& Flags::add(const std::string& name, bool takes_value, std::function<Status(const std::string&)> set) {
  flags_.push_back(Flag{name, takes_value, std::move(set)});
  return *this;
}

Flags& Flags::text(const std::string& name, std::string& dst) {
  return add(name, true, [&dst, name](const std::string& v) {
    if (v.empty()) return Status::error(name + " takes a non-empty value");
    dst = v;
    return Status();
  });
}

Flags& Flags::toggle(const std::string& name, bool& dst) {
  return add(name, false, [&dst](const std::string&) {
    dst = true;
    return Status();
  });
}

Flags& Flags::max_memory() {
  return add("--max-memory", true, [](const std::string& v) {
    // A number of bytes with an optional binary suffix: 512M, 1.5G, 2T.
    const char last = v.empty() ? 0 : char(std::toupper(static_cast<unsigned char>(v.back())));
    const int shift = last == 'K' ? 10 : last == 'M' ? 20 : last == 'G' ? 30 : last == 'T' ? 40 : 0;
    double amount = 0;
    const std::string digits = shift ? v.substr(0, v.size() - 1) : v;
    if (Status s = parse_number("--max-memory", digits, 0.0, 1e18, amount); !s.ok())
      return Status::error("--max-memory takes a size such as 512M, 2G or 1073741824, not '" + v + "'");
    const double bytes = std::ldexp(amount, shift);
    if (!(bytes >= 1048576.0 && bytes <= 0x1p62))
      return Status::error("--max-memory " + v + " is out of range [1M, 4194304T]");
    set_memory_limit(int64_t(bytes));
    return Status();
  });
}

Status Flags::parse(const Args& args) {
  for (const std::string& a : args)
    if (a == "--help" || a == "-h") return help_ = true, Status();
  for (size_t i = 0; i < args.size(); ++i) {
    Flag* f = nullptr;
    for (Flag& candidate : flags_)
      if (candidate.name == args[i]) f = &candidate;
    if (!f)
      return Status::error(args[i].rfind("-", 0) == 0 ? "unknown flag " + args[i]
                                                      : "unexpected argument '" + args[i] + "'");
    if (f->given) return Status::error(f->name + " is given twice");
    f->given = true;
    if (!f->takes_value) {
      GANTRY_TRY(f->set(""));
      continue;
    }
    if (i + 1 >= args.size()) return Status::error(f->name + " needs a value");
    GANTRY_TRY(f->set(args[++i]));
  }
  return {};
}

bool Flags::given(const std::string& name) const {
  for (const Flag& f : flags_)
    if (f.name == name) return f.given;
  return false;
}

Status check_output_path(const std::string& flag, const std::string& out, const std::vector<std::string>& inputs) {
  if (Status s = check_replaceable(out); !s.ok()) return Status::error(flag + ": " + s.message());
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const std::string& in : inputs)
    if (!in.empty() && fs::equivalent(out, in, ec))
      return Status::error(flag + " " + out + " is the input " + in + "; writing it would destroy what is being read");
  return {};
}

}  // namespace gantry::cli
