namespace Cocoon.Bot.Join;

public static class JoinServiceCollectionExtensions
{
    /// <summary>The join endpoint's service and the cleanup of workers that left (needs AddDispatch for the attestation policy).</summary>
    public static IServiceCollection AddWorkerJoin(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<JoinOptions>().Bind(configuration.GetSection(JoinOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<JoinService>();
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddSingleton<Telegram.Providers.ProviderStatus>(services);
        services.AddHostedService<JoinSweeper>();
        return services;
    }
}
