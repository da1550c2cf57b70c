using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cocoon.Bot.Slashing;

public static class SlashingServiceCollectionExtensions
{
    /// <summary>Stakes (Gateway:Stake, read through the ledger's StakeReader when a chain and Ton:StakeContract are set) and slashing.</summary>
    public static IServiceCollection AddSlashing(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<StakeOptions>().Bind(configuration.GetSection(StakeOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<StakeCache>();
        // The ton_proof links: a stake counts only for the wallet the provider's Telegram user proved (StakeCache).
        services.TryAddSingleton<MiniApp.WalletLinks>();
        services.TryAddSingleton<SlashBook>();
        services.TryAddSingleton<Slasher>();
        services.TryAddSingleton<SlashService>();
        services.TryAddSingleton<ProviderStakeReport>();
        services.AddHostedService(sp => sp.GetRequiredService<SlashService>());
        return services;
    }
}
