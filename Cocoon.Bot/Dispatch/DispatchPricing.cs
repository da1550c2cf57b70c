using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Pricing;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Dispatch;

/// <summary>The engine's price table applied to dispatch: the hold before a job and the payees after its receipt.</summary>
public sealed class DispatchPricing(PriceTable prices)
{
    /// <summary>
    /// The gateway has no tokenizer: a token is at least one UTF-8 byte, so bytes bound the prompt's tokens; the
    /// chat template adds a bounded number of its own per message.
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

    /// <summary>Worst case at the ceiling coefficient (the dearest worker the request could land on).</summary>
    public long Reserve(string model, GenerationRequest generation, int ceilingCoefficient)
    {
        ArgumentNullException.ThrowIfNull(generation);
        return prices.Reserve(model, PromptTokenUpperBound(generation), generation.Sampling.MaxTokens, ceilingCoefficient);
    }

    /// <summary>The provider's share, the network fee and the rounding remainder for the tokens the receipt reports.</summary>
    public IReadOnlyList<Payee> Charge(string model, UsageReceipt receipt, int workerCoefficient, int maxCoefficient, string providerId)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        var charge = prices.Charge(model, TokenUsage.Of(receipt.PromptTokens, receipt.CompletionTokens), workerCoefficient, maxCoefficient);
        var payees = new List<Payee>(3);
        if (charge.ProviderShare > 0)
        {
            payees.Add(new Payee(AccountId.Provider(providerId), charge.ProviderShare));
        }

        if (charge.NetworkFee > 0)
        {
            payees.Add(new Payee(AccountId.NetworkFee, charge.NetworkFee));
        }

        if (charge.Rounding > 0)
        {
            payees.Add(new Payee(AccountId.Rounding, charge.Rounding));
        }

        return payees;
    }
}
