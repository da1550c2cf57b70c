using Cocoon.Engine.Pricing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Billing;

public static class BillingServiceCollectionExtensions
{
    /// <summary>
    /// Job billing and the "Pricing" section it prices with, validated at start-up (PriceTable.Validate's messages name
    /// the setting). ILedger comes from AddCocoonLedger.
    /// </summary>
    public static IServiceCollection AddJobBilling(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<PricingOptions>().Bind(configuration.GetSection(PricingOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PricingOptions>, PricingOptionsValidator>());
        services.TryAddSingleton(sp => new PriceTable(sp.GetRequiredService<IOptions<PricingOptions>>().Value));
        services.TryAddSingleton<JobBilling>();
        return services;
    }

    private sealed class PricingOptionsValidator : IValidateOptions<PricingOptions>
    {
        public ValidateOptionsResult Validate(string? name, PricingOptions options)
        {
            var errors = PriceTable.Validate(options);
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
