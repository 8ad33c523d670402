// Exact money arithmetic for token costs: prices per million tokens, interaction costs, default prices.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace archestra::policy {

/// An amount of US dollars held as an integer count of 1e-10 USD, the precision of the `numeric(13,10)` cost
/// columns, so sums and comparisons are exact (no binary floating point). Range about +/-9.2e8 USD;
/// arithmetic saturates instead of wrapping.
class Money {
  public:
    static constexpr std::int64_t kUnitsPerDollar = 10'000'000'000;

    constexpr Money() = default;
    static constexpr Money fromUnits(std::int64_t units) { return Money(units); }
    static Money fromDollars(std::int64_t dollars);
    /// Parses a decimal string such as "50", "0.15", "-1.5" (at most 10 fraction digits; more are rejected).
    static std::optional<Money> parse(std::string_view decimal);

    constexpr std::int64_t units() const { return _units; }
    /// Decimal text rounded half away from zero to `decimals` places (0..10): toFixed(10) for the cost
    /// columns, toFixed(2) for messages.
    std::string toFixed(int decimals) const;

    friend Money operator+(Money a, Money b);
    friend Money operator-(Money a, Money b);
    friend constexpr auto operator<=>(Money a, Money b) = default;

  private:
    constexpr explicit Money(std::int64_t units) : _units(units) {}
    std::int64_t _units = 0;
};

struct ModelPrice {
    Money perMillionInput;
    Money perMillionOutput;
};

/// Price for a model with no `token_price` row (reference-proxy §1.5): $30/M in and out when the name
/// contains "-haiku", "-nano" or "-mini", else $50/M.
ModelPrice defaultModelPrice(std::string_view model);

/// tokensIn/1e6 * priceIn + tokensOut/1e6 * priceOut, rounded half up to 1e-10 USD.
Money tokenCost(const ModelPrice& price, std::uint64_t tokensIn, std::uint64_t tokensOut);

/// Exact-name price lookup (the `token_price` table).
class PriceTable {
  public:
    void set(std::string model, ModelPrice price) { _prices[std::move(model)] = price; }
    std::optional<ModelPrice> find(std::string_view model) const;
    /// The stored price, else defaultModelPrice(model) (the original creates rows with those defaults).
    ModelPrice priceOrDefault(std::string_view model) const;

  private:
    std::map<std::string, ModelPrice, std::less<>> _prices;
};

/// Cost of one interaction; nullopt when the model has no price row. Unlike the original, a zero token
/// count is a real count (a reply of 0 output tokens still costs its input), not "unknown".
std::optional<Money> interactionCost(const PriceTable& prices, std::string_view model, std::uint64_t tokensIn,
                                     std::uint64_t tokensOut);

}  // namespace archestra::policy
