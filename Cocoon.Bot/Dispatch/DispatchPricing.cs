using System.ComponentModel.DataAnnotations;
using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.Providers;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Dispatch;

/// <summary>Configuration section "Gateway:Pricing".</summary>
public sealed class DispatchPricingOptions
{
    public const string Section = "Gateway:Pricing";

    /// <summary>Base price of one token (prompt or completion) at coefficient 1000, in nanotons.</summary>
    [Range(0, 1_000_000_000, ErrorMessage = "Gateway:Pricing:NanotonsPerToken must be between 0 and 1e9.")]
    public long NanotonsPerToken { get; set; } = 1_000;

    /// <summary>The network's share of each charge, in thousandths.</summary>
    [Range(0, 1000, ErrorMessage = "Gateway:Pricing:NetworkFeePermille must be between 0 and 1000.")]
    public int NetworkFeePermille { get; set; } = 100;
}

/// <summary>What a request may cost at worst (the hold) and who is paid what for a verified receipt.</summary>
public sealed class DispatchPricing(IOptions<DispatchPricingOptions> options)
{
    /// <summary>
    /// The gateway has no tokenizer: a token is at least one UTF-8 byte, so bytes bound the prompt's tokens; the
    /// chat template adds a bounded number of its own.
    /// </summary>
    public static int PromptTokenUpperBound(GenerationRequest generation)
    {
        ArgumentNullException.ThrowIfNull(generation);
        const int templateOverhead = 16;
        var bytes = generation.Prompt is { } p ? Encoding.UTF8.GetByteCount(p) : 0;
        foreach (var m in generation.Messages ?? [])
        {
            bytes += Encoding.UTF8.GetByteCount(m.Content) + Encoding.UTF8.GetByteCount(m.Role) + templateOverhead;
        }

        return bytes + templateOverhead;
    }

    /// <summary>Worst case: every prompt byte a token, every allowed completion token, at the dearest candidate's coefficient.</summary>
    public long Reserve(GenerationRequest generation, int coefficient)
    {
        ArgumentNullException.ThrowIfNull(generation);
        return Cost((long)PromptTokenUpperBound(generation) + generation.Sampling.MaxTokens, coefficient);
    }

    /// <summary>Payees for the tokens in the receipt (never more than held): provider, then the network fee.</summary>
    public IReadOnlyList<Payee> Charge(UsageReceipt receipt, int coefficient, string providerId, long held)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        var total = Math.Min(Cost((long)receipt.PromptTokens + receipt.CompletionTokens, coefficient), held);
        var fee = total * options.Value.NetworkFeePermille / 1000;
        var payees = new List<Payee>(2);
        if (total - fee > 0)
        {
            payees.Add(new Payee(AccountId.Provider(providerId == ProviderDirectory.LocalProviderId ? ProviderDirectory.LocalProviderId : providerId), total - fee));
        }

        if (fee > 0)
        {
            payees.Add(new Payee(AccountId.NetworkFee, fee));
        }

        return payees;
    }

    /// <summary>tokens × price × coefficient / 1000, rounded up so the network never undercharges by rounding.</summary>
    private long Cost(long tokens, int coefficient) =>
        checked((tokens * options.Value.NanotonsPerToken * coefficient + 999) / 1000);
}
