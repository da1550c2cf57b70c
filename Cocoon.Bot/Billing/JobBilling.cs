using Cocoon.Engine.Attestation;
using Cocoon.Engine.Pricing;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Billing;

/// <summary>
/// The money side of one job, in one place: the worst-case hold before a job leaves the gateway (the engine's price
/// table at the dearest coefficient the job may land on), the charge from the verified receipt split between the
/// provider, the network fee and rounding, and the release when no answer is billed. The ledger posts; the hold is
/// the only balance check (<see cref="InsufficientFundsException"/> when it is refused).
/// </summary>
public sealed partial class JobBilling(PriceTable prices, ILedger ledger, ILogger<JobBilling> logger)
{
    /// <summary>
    /// The gateway has no tokenizer: a token is at least one UTF-8 byte, so bytes bound the prompt's tokens; the
    /// chat template adds a bounded number of its own per message (<see cref="ReceiptBounds.PromptTokens"/>).
    /// </summary>
    public static int PromptTokenUpperBound(GenerationRequest generation) => ReceiptBounds.PromptTokens(generation);

    /// <summary>The worst case at the ceiling coefficient (the dearest worker the request could land on).</summary>
    public long Reserve(string model, GenerationRequest generation, int ceilingCoefficient, IReadOnlyCollection<string>? tiers = null)
    {
        ArgumentNullException.ThrowIfNull(generation);
        return tiers is null
            ? prices.Reserve(model, PromptTokenUpperBound(generation), generation.Sampling.MaxTokens, ceilingCoefficient)
            : prices.Reserve(model, PromptTokenUpperBound(generation), generation.Sampling.MaxTokens, ceilingCoefficient, tiers);
    }

    /// <summary>An embedding job's worst case: every input's upper bound of tokens (<see cref="EmbeddingRules.TokenUpperBound"/>), no completion.</summary>
    public long Reserve(string model, EmbeddingRequest embedding, int ceilingCoefficient)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        return prices.Reserve(model, (int)Math.Min(int.MaxValue, EmbeddingRules.TokenUpperBound(embedding)), 0, ceilingCoefficient);
    }

    /// <summary>Holds an embedding job's worst case (billed per input token from the receipt, like a prompt).</summary>
    public Task<Hold> HoldAsync(AccountId payer, string requestId, string model, EmbeddingRequest embedding, int ceilingCoefficient, CancellationToken cancellationToken) =>
        ledger.HoldAsync(payer, Reserve(model, embedding, ceilingCoefficient), "dispatch:" + requestId, cancellationToken);

    /// <summary>Holds the worst case; the idempotency key makes a replayed request hold once.</summary>
    public Task<Hold> HoldAsync(AccountId payer, string requestId, string model, GenerationRequest generation, int ceilingCoefficient, CancellationToken cancellationToken, IReadOnlyCollection<string>? tiers = null) =>
        ledger.HoldAsync(payer, Reserve(model, generation, ceilingCoefficient, tiers), "dispatch:" + requestId, cancellationToken);

    /// <summary>
    /// Holds the worst case of a client-sealed job, whose prompt the gateway cannot see: the sealed body's length bounds
    /// the prompt's bytes (the ciphertext is the GenerationRequest JSON plus a tag), so it bounds its tokens too.
    /// </summary>
    public Task<Hold> HoldSealedAsync(AccountId payer, string requestId, string model, int promptTokenBound, int maxTokens, int ceilingCoefficient, string tier, CancellationToken cancellationToken) =>
        ledger.HoldAsync(payer, prices.Reserve(model, promptTokenBound, maxTokens, ceilingCoefficient, [tier]), "dispatch:" + requestId, cancellationToken);

    /// <summary>The provider's share, the network fee and the rounding remainder for the tokens the receipt reports.</summary>
    public IReadOnlyList<Payee> Split(string model, UsageReceipt receipt, int workerCoefficient, int maxCoefficient, string providerId, string tier = Engine.Matching.TrustTiers.Tee)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        // Prompt tokens the worker's prefix cache served are billed at the cached-prompt price.
        var charge = prices.Charge(model, new TokenUsage(receipt.PromptTokens, receipt.CachedPromptTokens, receipt.CompletionTokens), workerCoefficient, maxCoefficient, tier);
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

    /// <summary>Charges the verified receipt against the hold and releases the rest; returns what was charged.</summary>
    public Task<long> SettleAsync(Hold hold, string model, UsageReceipt receipt, int workerCoefficient, int maxCoefficient, string providerId, string tier = Engine.Matching.TrustTiers.Tee)
    {
        ArgumentNullException.ThrowIfNull(hold);
        // Settling must not be abandoned half way because the caller went away: the answer was delivered.
        return ledger.SettleAsync(hold.Id, Split(model, receipt, workerCoefficient, maxCoefficient, providerId, tier), CancellationToken.None);
    }

    /// <summary>Gives a hold back (no answer is billed). Never throws: the ledger's hold expiry is the fallback.</summary>
    public async Task ReleaseAsync(Guid holdId)
    {
        try
        {
            await ledger.ReleaseAsync(holdId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The ledger's hold expiry releases it later; the user is not charged either way.
            LogReleaseFailed(logger, holdId, e);
        }
    }

    [LoggerMessage(EventId = LogEvents.Billing + 1, Level = LogLevel.Error, Message = "Releasing hold {HoldId} failed; it expires on its own")]
    private static partial void LogReleaseFailed(ILogger logger, Guid holdId, Exception exception);
}
