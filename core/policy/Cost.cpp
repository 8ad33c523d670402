// Money parsing/formatting and token cost computation.
#include "core/policy/Cost.h"

#include <limits>

namespace archestra::policy {
namespace {

using Wide = __int128;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

std::int64_t saturate(Wide v) {
    return v > kMax ? kMax : v < kMin ? kMin : static_cast<std::int64_t>(v);
}

Wide pow10(int n) {
    Wide p = 1;
    while (n-- > 0) p *= 10;
    return p;
}

// Divides rounding half away from zero.
Wide divRound(Wide num, Wide den) {
    Wide q = num / den, r = num % den;
    if (r < 0) r = -r;
    if (2 * r >= den) q += num < 0 ? -1 : 1;
    return q;
}

}  // namespace

Money Money::fromDollars(std::int64_t dollars) {
    return Money(saturate(Wide(dollars) * kUnitsPerDollar));
}

std::optional<Money> Money::parse(std::string_view s) {
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty()) return std::nullopt;
    Wide whole = 0, frac = 0;
    int fracDigits = 0;
    bool seenDot = false, seenDigit = false;
    for (char c : s) {
        if (c == '.' && !seenDot) {
            seenDot = true;
            continue;
        }
        if (c < '0' || c > '9') return std::nullopt;
        seenDigit = true;
        if (seenDot) {
            if (++fracDigits > 10) return std::nullopt;
            frac = frac * 10 + (c - '0');
        } else {
            whole = whole * 10 + (c - '0');
            if (whole > Wide(kMax)) return std::nullopt;
        }
    }
    if (!seenDigit) return std::nullopt;
    Wide units = whole * kUnitsPerDollar + frac * pow10(10 - fracDigits);
    if (units > Wide(kMax)) return std::nullopt;
    return Money(static_cast<std::int64_t>(negative ? -units : units));
}

std::string Money::toFixed(int decimals) const {
    if (decimals < 0) decimals = 0;
    if (decimals > 10) decimals = 10;
    Wide scaled = divRound(Wide(_units), pow10(10 - decimals));
    bool negative = scaled < 0;
    if (negative) scaled = -scaled;
    Wide scale = pow10(decimals);
    auto whole = static_cast<unsigned long long>(scaled / scale);
    auto frac = static_cast<unsigned long long>(scaled % scale);
    std::string out = (negative ? "-" : "") + std::to_string(whole);
    if (decimals > 0) {
        std::string f = std::to_string(frac);
        out += "." + std::string(static_cast<std::size_t>(decimals) - f.size(), '0') + f;
    }
    return out;
}

Money operator+(Money a, Money b) {
    return Money(saturate(Wide(a._units) + b._units));
}
Money operator-(Money a, Money b) {
    return Money(saturate(Wide(a._units) - b._units));
}

ModelPrice defaultModelPrice(std::string_view model) {
    const bool small = model.find("-haiku") != std::string_view::npos ||
                       model.find("-nano") != std::string_view::npos ||
                       model.find("-mini") != std::string_view::npos;
    Money p = Money::fromDollars(small ? 30 : 50);
    return {p, p};
}

Money tokenCost(const ModelPrice& price, std::uint64_t tokensIn, std::uint64_t tokensOut) {
    Wide num =
        Wide(tokensIn) * price.perMillionInput.units() + Wide(tokensOut) * price.perMillionOutput.units();
    return Money::fromUnits(saturate(divRound(num, 1'000'000)));
}

std::optional<ModelPrice> PriceTable::find(std::string_view model) const {
    auto it = _prices.find(model);
    if (it == _prices.end()) return std::nullopt;
    return it->second;
}

ModelPrice PriceTable::priceOrDefault(std::string_view model) const {
    if (auto p = find(model)) return *p;
    return defaultModelPrice(model);
}

std::optional<Money> interactionCost(const PriceTable& prices, std::string_view model, std::uint64_t tokensIn,
                                     std::uint64_t tokensOut) {
    auto price = prices.find(model);
    if (!price) return std::nullopt;
    return tokenCost(*price, tokensIn, tokensOut);
}

}  // namespace archestra::policy
