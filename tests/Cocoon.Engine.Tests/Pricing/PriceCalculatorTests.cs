using System.Numerics;
using Cocoon.Engine.Pricing;

namespace Cocoon.Engine.Tests.Pricing;

public sealed class PriceCalculatorTests
{
    private static readonly ModelPrice Price = new() { PromptPerMillion = 20_000_000, CachedPromptPerMillion = 5_000_000, CompletionPerMillion = 80_000_000 };

    [Fact]
    public void Charges_per_token_type_at_list_price_and_splits_the_fee()
    {
        var charge = PriceCalculator.Charge(Price, TokenUsage.Of(1_000, 500), workerCoefficient: 1000, maxCoefficient: 2000, networkFeeBasisPoints: 1000);

        // 1000 × 20 + 500 × 80 nanotons
        Assert.Equal(new Charge(Total: 60_000, ProviderShare: 54_000, NetworkFee: 6_000, Rounding: 0), charge);
    }

    [Fact]
    public void Cached_prompt_tokens_are_part_of_the_prompt_and_billed_cheaper()
    {
        var charge = PriceCalculator.Charge(Price, new TokenUsage(Prompt: 1_000, CachedPrompt: 600, Completion: 0), 1000, 1000, 0);

        Assert.Equal((400 * 20) + (600 * 5), charge.Total);
        Assert.Throws<ArgumentException>(() => PriceCalculator.Charge(Price, new TokenUsage(10, 11, 0), 1000, 1000, 0));
    }

    [Fact]
    public void The_worker_coefficient_scales_and_the_request_maximum_caps_it()
    {
        var usage = TokenUsage.Of(100, 100);
        Assert.Equal(10_000, PriceCalculator.Charge(Price, usage, 1000, 0, 0).Total);
        Assert.Equal(15_000, PriceCalculator.Charge(Price, usage, 1500, 0, 0).Total);
        Assert.Equal(12_000, PriceCalculator.Charge(Price, usage, 1500, 1200, 0).Total);
        Assert.Equal(5_000, PriceCalculator.Charge(Price, usage, 500, 1200, 0).Total);
        Assert.Equal(1200, PriceCalculator.EffectiveCoefficient(1500, 1200));
    }

    [Fact]
    public void Fractions_of_a_nanoton_round_up_for_the_payer_and_the_remainder_goes_to_rounding()
    {
        var tiny = new ModelPrice { PromptPerMillion = 1, CachedPromptPerMillion = 1, CompletionPerMillion = 1 };

        // One token at 1 nanoton per million costs 0.000001 nanoton: the payer pays 1, all of it rounding.
        Assert.Equal(new Charge(1, 0, 0, 1), PriceCalculator.Charge(tiny, TokenUsage.Of(1, 0), 1000, 1000, 1000));

        // 3 nanotons exactly at a 50% fee: 1 each, 1 nanoton left over.
        var three = new ModelPrice { PromptPerMillion = 3_000_000 };
        Assert.Equal(new Charge(3, 1, 1, 1), PriceCalculator.Charge(three, TokenUsage.Of(1, 0), 1000, 1000, 5000));
    }

    [Fact]
    public void Parts_always_sum_to_the_total_which_covers_the_exact_cost_and_never_exceeds_the_reserve()
    {
        var random = new Random(1234);
        for (var i = 0; i < 20_000; i++)
        {
            var price = new ModelPrice
            {
                PromptPerMillion = random.NextInt64(0, 1_000_000_000),
                CachedPromptPerMillion = random.NextInt64(0, 1_000_000_000),
                CompletionPerMillion = random.NextInt64(0, 1_000_000_000),
            };
            var maxPrompt = random.Next(0, 200_000);
            var maxTokens = random.Next(0, 50_000);
            var ceiling = random.Next(1, 5000);
            var prompt = random.Next(0, maxPrompt + 1);
            var usage = new TokenUsage(prompt, random.Next(0, prompt + 1), random.Next(0, maxTokens + 1));
            var worker = random.Next(0, 5000);
            var bps = random.Next(0, 10_001);

            var charge = PriceCalculator.Charge(price, usage, worker, ceiling, bps);

            Assert.Equal(charge.Total, charge.ProviderShare + charge.NetworkFee + charge.Rounding);
            Assert.InRange(charge.Rounding, 0, 2);
            var exactTimesDenominator = ((BigInteger)(usage.Prompt - usage.CachedPrompt) * price.PromptPerMillion
                                         + (BigInteger)usage.CachedPrompt * price.CachedPromptPerMillion
                                         + (BigInteger)usage.Completion * price.CompletionPerMillion) * Math.Min(worker, ceiling);
            Assert.True((BigInteger)charge.Total * 1_000_000_000 >= exactTimesDenominator);
            Assert.True(((BigInteger)charge.Total - 1) * 1_000_000_000 < exactTimesDenominator);
            Assert.True(charge.Total <= PriceCalculator.Reserve(price, maxPrompt, maxTokens, ceiling));
        }
    }

    [Fact]
    public void Reserve_is_the_worst_case_at_the_ceiling()
    {
        // 1000 prompt tokens at the dearer prompt price + 256 completion tokens, at 1.5x.
        Assert.Equal(((1_000 * 20) + (256 * 80)) * 3 / 2, PriceCalculator.Reserve(Price, 1_000, 256, 1500));
        Assert.Throws<ArgumentOutOfRangeException>(() => PriceCalculator.Reserve(Price, 1, 1, 0));
    }

    [Fact]
    public void Absurd_prices_overflow_loudly_instead_of_wrapping()
    {
        var dear = new ModelPrice { CompletionPerMillion = 1_000_000_000_000_000 };
        Assert.Throws<OverflowException>(() => PriceCalculator.Charge(dear, TokenUsage.Of(0, int.MaxValue), 5000, 0, 0));
    }

    [Fact]
    public void Price_table_has_a_default_for_any_model_and_ignores_name_case()
    {
        var table = new PriceTable(new PricingOptions
        {
            NetworkFeeBasisPoints = 500,
            Models = { ["Qwen-Small"] = new ModelPrice { PromptPerMillion = 1_000_000, CachedPromptPerMillion = 250_000, CompletionPerMillion = 4_000_000 } },
        });

        Assert.Equal(500, table.NetworkFeeBasisPoints);
        Assert.Equal(4_000_000, table.For("qwen-small").CompletionPerMillion);
        Assert.Equal(ModelPrice.Default, table.For("some-other-model"));
        Assert.Equal(new Charge(5, 4, 0, 1), table.Charge("QWEN-SMALL", TokenUsage.Of(1, 1), 1000, 1000));
        Assert.Equal(5, table.Reserve("qwen-small", 1, 1, 1000));
    }

    [Fact]
    public void Bad_price_configuration_names_the_setting()
    {
        var options = new PricingOptions { NetworkFeeBasisPoints = 20_000 };
        options.Models["m"] = new ModelPrice { PromptPerMillion = -1 };

        var ex = Assert.Throws<ArgumentException>(() => new PriceTable(options));

        Assert.Contains("Pricing:NetworkFeeBasisPoints", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Pricing:Models:m", ex.Message, StringComparison.Ordinal);
    }
}
