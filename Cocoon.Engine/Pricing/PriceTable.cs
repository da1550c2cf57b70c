namespace Cocoon.Engine.Pricing;

/// <summary>
/// Configuration section "Pricing":
/// <code>
/// "Pricing": {
///   "NetworkFeeBasisPoints": 1000,            // 10% of every charge to network:fee
///   "Default": { "PromptPerMillion": 20000000, "CachedPromptPerMillion": 5000000, "CompletionPerMillion": 80000000 },
///   "Models": { "qwen2.5-0.5b-instruct": { "PromptPerMillion": 10000000, ... } }
/// }
/// </code>
/// Prices are nanotons per 1,000,000 tokens at coefficient 1.0x (1000).
/// </summary>
public sealed class PricingOptions
{
    public const string Section = "Pricing";

    /// <summary>The network's share of each charge in basis points (1/100 of a percent); the provider gets the rest.</summary>
    public int NetworkFeeBasisPoints { get; set; } = 1000;

    public ModelPrice Default { get; set; } = ModelPrice.Default;

    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The network's consumer price table: what workers without a TEE (the consumer tier) charge. Unset: the regular
    /// prices. "Pricing:Consumer:Default" and "Pricing:Consumer:Models:NAME" as above.
    /// </summary>
    public ConsumerPricingOptions? Consumer { get; set; }
}

/// <summary>Configuration section "Pricing:Consumer": prices for the consumer trust tier.</summary>
public sealed class ConsumerPricingOptions
{
    /// <summary>Unset: a model without its own consumer price uses its regular price.</summary>
    public ModelPrice? Default { get; set; }

    public Dictionary<string, ModelPrice> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Prices per model (names compared case-insensitively) with a default for any other model.</summary>
public sealed class PriceTable
{
    private readonly Dictionary<string, ModelPrice> _models;

    public PriceTable(PricingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = Validate(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        Default = options.Default;
        NetworkFeeBasisPoints = options.NetworkFeeBasisPoints;
        _models = new Dictionary<string, ModelPrice>(options.Models, StringComparer.OrdinalIgnoreCase);
        _consumerDefault = options.Consumer?.Default;
        _consumerModels = new Dictionary<string, ModelPrice>(options.Consumer?.Models ?? [], StringComparer.OrdinalIgnoreCase);
    }

    private readonly ModelPrice? _consumerDefault;
    private readonly Dictionary<string, ModelPrice> _consumerModels;

    public ModelPrice Default { get; }

    public int NetworkFeeBasisPoints { get; }

    /// <summary>Start-up validation messages that name the setting and the fix; empty when fine.</summary>
    public static IReadOnlyList<string> Validate(PricingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.NetworkFeeBasisPoints is < 0 or > PriceCalculator.BasisPoints)
        {
            errors.Add($"Pricing:NetworkFeeBasisPoints must be between 0 and 10000 (got {options.NetworkFeeBasisPoints}); 1000 means 10%.");
        }

        if (options.Default is null)
        {
            errors.Add("Pricing:Default is empty; remove it to use the built-in default prices.");
        }
        else if (options.Default.Validate("Pricing:Default") is { } error)
        {
            errors.Add(error);
        }

        foreach (var (model, price) in options.Models)
        {
            if (price is null)
            {
                errors.Add($"Pricing:Models:{model} is empty; give it prices or remove it.");
            }
            else if (price.Validate($"Pricing:Models:{model}") is { } error)
            {
                errors.Add(error);
            }
        }

        if (options.Consumer?.Default is { } consumerDefault && consumerDefault.Validate("Pricing:Consumer:Default") is { } consumerError)
        {
            errors.Add(consumerError);
        }

        foreach (var (model, price) in options.Consumer?.Models ?? [])
        {
            if (price is null)
            {
                errors.Add($"Pricing:Consumer:Models:{model} is empty; give it prices or remove it.");
            }
            else if (price.Validate($"Pricing:Consumer:Models:{model}") is { } error)
            {
                errors.Add(error);
            }
        }

        return errors;
    }

    /// <summary>
    /// The price of a model in a trust tier: the consumer table for "consumer" (its model entry, else its default,
    /// else the regular price), the regular table for every other tier.
    /// </summary>
    public ModelPrice For(string model, string tier) =>
        tier != Matching.TrustTiers.Consumer ? For(model)
        : _consumerModels.TryGetValue(model ?? "", out var price) ? price
        : _consumerDefault ?? For(model!);

    /// <summary>The worst case over the tiers a request accepts (it may land on any of them).</summary>
    public long Reserve(string model, int promptTokens, int maxTokens, int maxCoefficient, IEnumerable<string> tiers) =>
        (tiers ?? []).Select(t => PriceCalculator.Reserve(For(model, t), promptTokens, maxTokens, maxCoefficient))
            .DefaultIfEmpty(Reserve(model, promptTokens, maxTokens, maxCoefficient)).Max();

    /// <summary>The bill of one answer served in <paramref name="tier"/>.</summary>
    public Charge Charge(string model, TokenUsage usage, int workerCoefficient, int maxCoefficient, string tier) =>
        PriceCalculator.Charge(For(model, tier), usage, workerCoefficient, maxCoefficient, NetworkFeeBasisPoints);

    public ModelPrice For(string model) =>
        model is not null && _models.TryGetValue(model, out var price) ? price : Default;

    /// <summary>The worst case to hold before a job (see <see cref="PriceCalculator.Reserve"/>).</summary>
    public long Reserve(string model, int promptTokens, int maxTokens, int maxCoefficient) =>
        PriceCalculator.Reserve(For(model), promptTokens, maxTokens, maxCoefficient);

    /// <summary>The bill of one answer with this table's fee split (see <see cref="PriceCalculator.Charge"/>).</summary>
    public Charge Charge(string model, TokenUsage usage, int workerCoefficient, int maxCoefficient) =>
        PriceCalculator.Charge(For(model), usage, workerCoefficient, maxCoefficient, NetworkFeeBasisPoints);
}
