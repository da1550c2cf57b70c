using Cocoon.Worker.Attestation;
using Cocoon.Engine.Attestation;
using Cocoon.Network.Hosting;
using Cocoon.Network.Observability;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Worker.Hosting;

public static class WorkerHostingExtensions
{
    /// <summary>
    /// The Redis-connected worker host: TEE provider (Worker:Tee), measurement, Redis transport and the hosted
    /// service. The inference service (IInferenceService) is registered separately (AddLlamaInference), and first:
    /// hosted services start in registration order, so the model has loaded before this host attests and registers
    /// with the gateway.
    /// </summary>
    public static IServiceCollection AddWorkerHost(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WorkerHostOptions>().Bind(configuration.GetSection(WorkerHostOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddCocoonRedis(configuration);
        services.AddCocoonTracing(configuration, "cocoon-worker");
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddKeyedSingleton(JobProcessor.DeadlineClock, (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.TryAddSingleton<ITeeProvider>(sp => CreateTee(sp.GetRequiredService<IOptions<WorkerHostOptions>>().Value.Tee, configuration));
        services.TryAddSingleton(_ => new WorkerMeasurement(Measurement.ForCurrentProcess(configuration["Llama:LibraryDir"])));
        services.AddSingleton<JobProcessor>();
        services.AddSingleton<ChallengeResponder>();
        services.AddSingleton<WorkerHost>();
        services.AddHostedService(sp => sp.GetRequiredService<WorkerHost>());
        return services;
    }

    /// <summary>The simulated platform key lives in COCOON_DATA/tee, so a gateway on the same machine can trust it for local runs.</summary>
    public static string SimulatedPlatformDirectory(IConfiguration configuration) =>
        Path.Combine(CocoonEnvironment.DataDir(configuration), "tee");

    internal static ITeeProvider CreateTee(string kind, IConfiguration configuration)
    {
        if (kind == TdxTeeProvider.TeeKind)
        {
            var tdx = new TdxTeeProvider();
            return tdx.IsAvailable
                ? tdx
                : throw new TeeUnavailableException(
                    $"Worker:Tee is 'tdx' but {TdxTeeProvider.DefaultReportRoot} does not exist: run inside an Intel TDX guest with configfs-tsm, or set Worker:Tee=simulated.");
        }

        if (kind is "none" or ConsumerTeeProvider.TeeKind)
        {
            return new ConsumerTeeProvider();
        }

        return SimulatedTeeProvider.LoadOrCreate(SimulatedPlatformDirectory(configuration));
    }
}
