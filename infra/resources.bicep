// Everything in kvbackup's own resource group. Two storage accounts on purpose:
//  - runtime: the Functions host and the Durable task hub. The host needs Storage Blob Data Owner on it
//    (keys, leases), which would otherwise cover the backups too; and versioning there would only
//    multiply the task hub's lease and message blobs;
//  - backups: blob versioning, soft delete of blobs and containers, a lifecycle rule that ends old
//    versions; the app holds Storage Blob Data Contributor on its backup container only.
// No account accepts shared keys: every caller (app, HSM, operators) uses Microsoft Entra ID.

param location string
param tags object
param resourceToken string

@description('Comma-separated vault URLs (KVBACKUP_ALLOWED_VAULTS).')
param allowedVaults string

@description('Comma-separated Managed HSM URLs (KVBACKUP_ALLOWED_HSMS).')
param allowedHsms string

param hasHsms bool
param hsmStorageIdentityPrincipalId string
param schedule string
param retentionDays int
param retentionMinComplete int
param retentionDryRun bool
param backupSoftDeleteDays int

@description('Redundancy of the backup account: geo-redundant by default, so a regional outage does not take the backups with it.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_RAGRS', 'Standard_GZRS', 'Standard_RAGZRS'])
param backupStorageSku string = 'Standard_GRS'

@description('Email address the monitoring alerts go to (empty: alerts without notification).')
param alertEmail string = ''

@description('Hours after which a target without a newer complete backup raises an alert.')
param staleAfterHours int = 26

@description('Hours without a scheduled run after which an alert is raised.')
param timerMissedAfterHours int = 26

@description('Upper bound of Flex Consumption instances: keeps the total Key Vault call rate within the vault throttle.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 20

var functionAppName = 'func-kvbackup-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var backupContainerName = 'kvbackup'
var hsmContainerName = 'hsm-backups'
var backupBlobEndpoint = 'https://${backupStorage.name}.blob.${environment().suffixes.storage}'

// Built-in Azure role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-kvbackup-${resourceToken}'
  location: location
  tags: tags
}

// ------------------------------------------------------------------ monitoring

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-kvbackup-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-kvbackup-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    // Telemetry is accepted only with an Entra token (the app's identity), not with the key alone.
    DisableLocalAuth: true
  }
}

// Workbook and alerts over the app's log lines (infra/monitoring).
module monitoring 'monitoring/monitoring.bicep' = {
  name: 'kvbackup-monitoring'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    applicationInsightsId: insights.id
    alertEmail: alertEmail
    staleAfterHours: staleAfterHours
    timerMissedAfterHours: timerMissedAfterHours
  }
}

// ------------------------------------------------------------------ storage

resource runtimeStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stkvbrt${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
  }

  resource blobs 'blobServices' = {
    name: 'default'

    resource deployment 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }
  }
}

resource backupStorage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stkvbbk${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: backupStorageSku }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    // A Managed HSM reaches the account over the public endpoint unless trusted-service bypass and a
    // private endpoint are set up (see docs/operations.md).
    publicNetworkAccess: 'Enabled'
  }

  resource blobs 'blobServices' = {
    name: 'default'
    properties: {
      isVersioningEnabled: true
      deleteRetentionPolicy: {
        enabled: true
        days: backupSoftDeleteDays
      }
      containerDeleteRetentionPolicy: {
        enabled: true
        days: backupSoftDeleteDays
      }
    }

    resource backups 'containers' = {
      name: backupContainerName
      properties: { publicAccess: 'None' }
    }

    resource hsmBackups 'containers' = {
      name: hsmContainerName
      properties: { publicAccess: 'None' }
    }
  }

  // Retention deletes whole backup sets; with versioning on, their previous versions would stay forever.
  resource lifecycle 'managementPolicies' = {
    name: 'default'
    properties: {
      policy: {
        rules: [
          {
            name: 'expire-previous-versions'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: { blobTypes: ['blockBlob'] }
              actions: {
                version: {
                  delete: { daysAfterCreationGreaterThan: backupSoftDeleteDays }
                }
              }
            }
          }
        ]
      }
    }
  }
}

// ------------------------------------------------------------------ role assignments (least privilege)

// The Functions host and the Durable task hub: blobs (keys, leases, large messages, package), queues, tables.
resource runtimeBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(runtimeStorage.id, identity.id, roles.storageBlobDataOwner)
  scope: runtimeStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource runtimeQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(runtimeStorage.id, identity.id, roles.storageQueueDataContributor)
  scope: runtimeStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource runtimeTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(runtimeStorage.id, identity.id, roles.storageTableDataContributor)
  scope: runtimeStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Backup sets: read, write once, delete (retention). Scoped to the one container.
resource backupContainerWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(backupStorage::blobs::backups.id, identity.id, roles.storageBlobDataContributor)
  scope: backupStorage::blobs::backups
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Managed HSM full backup/restore: the Functions app asks the HSM to use its own user-assigned identity
// (no SAS exists at all), so that identity, not the app, needs access to the HSM container. The app needs
// none: it only passes the container URL. (The CLI's userDelegationSas mode would instead need the
// caller to hold Storage Blob Data Contributor on the container and Storage Blob Delegator on the account.)
resource hsmIdentityWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasHsms && !empty(hsmStorageIdentityPrincipalId)) {
  name: guid(backupStorage::blobs::hsmBackups.id, hsmStorageIdentityPrincipalId, roles.storageBlobDataContributor)
  scope: backupStorage::blobs::hsmBackups
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: hsmStorageIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ------------------------------------------------------------------ the Function App

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-kvbackup-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      // Flex Consumption sets the worker runtime and version from functionAppConfig.runtime, not app settings.
      appSettings: [
        // Host and Durable task hub storage, identity-based (no connection string anywhere).
        { name: 'AzureWebJobsStorage__accountName', value: runtimeStorage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
        // DefaultAzureCredential (Key Vault, backup storage) picks the user-assigned identity by this id.
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'KVBACKUP_TASK_HUB', value: 'kvbackup' }
        { name: 'KVBACKUP_STORAGE', value: backupBlobEndpoint }
        { name: 'KVBACKUP_CONTAINER', value: backupContainerName }
        { name: 'KVBACKUP_ALLOWED_VAULTS', value: allowedVaults }
        { name: 'KVBACKUP_ALLOWED_HSMS', value: allowedHsms }
        { name: 'KVBACKUP_HSM_BACKUP_CONTAINER_URL', value: hasHsms ? '${backupBlobEndpoint}/${hsmContainerName}' : '' }
        { name: 'KVBACKUP_BATCH_SIZE', value: '100' }
        { name: 'KVBACKUP_BATCHES_IN_FLIGHT', value: '8' }
        { name: 'KVBACKUP_KEY_CONCURRENCY', value: '16' }
        { name: 'KVBACKUP_MAX_OPS_PER_10S', value: '4000' }
        { name: 'KVBACKUP_SCHEDULE', value: schedule }
        { name: 'KVBACKUP_RETENTION_DAYS', value: string(retentionDays) }
        { name: 'KVBACKUP_RETENTION_MIN_COMPLETE', value: string(retentionMinComplete) }
        { name: 'KVBACKUP_RETENTION_DRY_RUN', value: retentionDryRun ? 'true' : 'false' }
        // Local development only (the emulator's certificate); must stay empty in Azure.
        { name: 'KVBACKUP_EMULATOR_CA', value: '' }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          // Named through the container resource, so the app is created after its package container.
          value: '${runtimeStorage.properties.primaryEndpoints.blob}${runtimeStorage::blobs::deployment.name}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      // Node 22 in Azure (Node 20's support ended 2026-04-30); the code also builds and runs on Node 20.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
  // The host reads its storage at first start: grant access before the app exists.
  dependsOn: [
    runtimeStorage::blobs::deployment
    runtimeBlobOwner
    runtimeQueues
    runtimeTables
    telemetryPublisher
  ]
}

output functionAppName string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output backupBlobEndpoint string = backupBlobEndpoint
output hsmBackupContainerUrl string = '${backupBlobEndpoint}/${hsmContainerName}'
output applicationInsightsName string = insights.name
output workbookId string = monitoring.outputs.workbookId
