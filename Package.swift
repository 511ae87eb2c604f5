// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "NeoSec",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "neosec", targets: ["neosec"]),
        .executable(name: "neosec-token", targets: ["neosec-token"]),
        .executable(name: "neosec-authn", targets: ["neosec-authn"]),
        .executable(name: "neosec-uma", targets: ["neosec-uma"]),
        .executable(name: "neosec-introspect", targets: ["neosec-introspect"]),
        .executable(name: "neosec-resource", targets: ["neosec-resource"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // MARK: Shared libraries
        .target(
            name: "WireModels",
            path: "Shared/WireModels",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "JOSE",
            dependencies: [
                "WireModels",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            path: "Shared/JOSE",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Storage",
            dependencies: [
                "JOSE",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/Storage",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ServiceKit",
            dependencies: [
                "WireModels", "JOSE", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: swiftSettings
        ),

        // MARK: Services (libraries, so that `neosec` and the tests can link them)
        .target(
            name: "TokenService",
            dependencies: [
                "ServiceKit", .product(name: "Crypto", package: "swift-crypto"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Services/TokenService",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AuthnService",
            dependencies: [
                "ServiceKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Services/AuthnService",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "UMAService",
            dependencies: [
                "ServiceKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Services/UMAService",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IntrospectService",
            dependencies: [
                "ServiceKit", "TokenService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/IntrospectService",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ResourceService",
            dependencies: [
                "ServiceKit",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Services/ResourceService",
            swiftSettings: swiftSettings
        ),

        // MARK: Thin executables, one per service, for containers and replicas
        .executableTarget(name: "neosec-token", dependencies: ["TokenService"], path: "Services/Executables/neosec-token", swiftSettings: swiftSettings),
        .executableTarget(name: "neosec-authn", dependencies: ["AuthnService"], path: "Services/Executables/neosec-authn", swiftSettings: swiftSettings),
        .executableTarget(name: "neosec-uma", dependencies: ["UMAService"], path: "Services/Executables/neosec-uma", swiftSettings: swiftSettings),
        .executableTarget(
            name: "neosec-introspect",
            dependencies: ["IntrospectService"],
            path: "Services/Executables/neosec-introspect",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "neosec-resource",
            dependencies: ["ResourceService"],
            path: "Services/Executables/neosec-resource",
            swiftSettings: swiftSettings
        ),

        // MARK: Command-line tool: `neosec up`, `neosec serve <service>`, `neosec admin …`
        .executableTarget(
            name: "neosec",
            dependencies: [
                "TokenService", "AuthnService", "UMAService", "IntrospectService", "ResourceService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "JOSE", "Storage", "WireModels",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/CLI",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .target(
            name: "NeoSecTesting",
            dependencies: [
                "ServiceKit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/NeoSecTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NeoSecTests",
            dependencies: [
                "NeoSecTesting", "JOSE", "Storage", "ServiceKit", "WireModels",
                "TokenService", "AuthnService", "UMAService", "IntrospectService", "ResourceService",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/NeoSecTests",
            swiftSettings: swiftSettings
        ),
    ]
)
